import { TASKWIRE_VERSION } from "../core/version.js";

/**
 * The SDK's version, sent in `Hello.sdk` as `taskwire-ts/<version>`. Keep in line with
 * `package.json` (a test checks it).
 */
export const SDK_VERSION = TASKWIRE_VERSION;

/** The value of `Hello.sdk`. */
export const SDK_NAME = `taskwire-ts/${SDK_VERSION}`;
