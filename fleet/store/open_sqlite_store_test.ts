import { openSqliteStore } from "./open_sqlite_store.ts";
import { _runStoreContract } from "./_store_contract.ts";

Deno.test("SQLite fleet store passes the store contract", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cap-fleet-sqlite-" });
  let n = 0;
  const paths = new WeakMap<object, string>();
  try {
    await _runStoreContract(t, {
      newStore: async () => {
        const path = `${dir}/fleet-${++n}.db`;
        const store = await openSqliteStore(path);
        paths.set(store, path);
        return store;
      },
      reopen: async (store) => {
        await store.close();
        return await openSqliteStore(paths.get(store)!);
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
