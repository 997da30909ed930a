/**
 * The dependencies suite (`./dependencies-contract.ts`) on PostgreSQL and on PGlite.
 */
import { createTestPgliteStore, createTestStore } from "../support/database.js";
import { describeDependenciesContract } from "./dependencies-contract.js";

describeDependenciesContract("PostgreSQL", () => createTestStore());
describeDependenciesContract("PGlite", () => createTestPgliteStore());
