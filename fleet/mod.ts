/**
 * The fleet side: evidence ingest over MQTT, the evidence store (SQLite or
 * PostgreSQL) and the web console with its JSON API.
 * @module
 */
export * from "./store/mod.ts";
