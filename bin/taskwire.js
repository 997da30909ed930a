#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so task modules written in TypeScript load as they are.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
