/** Taskwire's version, as servers register it and the SDKs report it. Keep in line with `package.json` (a test checks it). */
export const TASKWIRE_VERSION = "0.1.0";
