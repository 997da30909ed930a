/**
 * The SDK's version, sent in `Hello.sdk` as `taskwire-ts/<version>`. Keep in line with
 * `package.json` (a test checks it).
 */
export const SDK_VERSION = "0.1.0";

/** The value of `Hello.sdk`. */
export const SDK_NAME = `taskwire-ts/${SDK_VERSION}`;
