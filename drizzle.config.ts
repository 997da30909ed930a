/**
 * drizzle-kit configuration: `npm run migrations:generate` (`drizzle-kit generate`) writes the
 * SQL migrations of `drizzle/` from the one schema file. Migrations are applied by Taskwire
 * itself (`src/store/migrate.ts`: at server start and by `taskwire migrate`), into the configured
 * schema, not by `drizzle-kit migrate`.
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/store/schema.ts",
  out: "./drizzle",
});
