/**
 * Catalog refresh, every five seconds: the catalog of task types is read again, so that types
 * declared on other servers decode as JSON (and show in reflection) here too.
 */
import type { Logger } from "../../core/logger.js";
import type { Catalog } from "../engine/catalog.js";
import { periodic, type Duty } from "./duty.js";

/** How often the catalog is re-read. */
const CATALOG_REFRESH_MS = 5_000;

export function catalogRefresh(deps: { catalog: Catalog; logger: Logger }): Duty {
  return periodic({ name: "catalog refresh", intervalMs: CATALOG_REFRESH_MS, logger: deps.logger, run: () => deps.catalog.loadAll() });
}
