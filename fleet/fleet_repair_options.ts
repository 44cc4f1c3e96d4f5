/** How the console repairs recorded runs (the synthesis loop of `cap synth --from-run`). */
export interface FleetRepairOptions {
  /** Base URL of an OpenAI-compatible server. Default: `OPENAI_BASE_URL`. */
  llmUrl?: string | undefined;
  /** Model name. Default: `CAP_MODEL`. */
  llmModel?: string | undefined;
  /** API key. Default: `OPENAI_API_KEY` (none for a local server with `llmUrl`). */
  apiKey?: string | undefined;
  /** Most attempts of the repair loop. Default: the loop's. */
  maxAttempts?: number | undefined;
  /** The private JWK that signs repaired programs (a key with the `program-signer` role). */
  signingKey: JsonWebKey & { kid?: string };
  /** Key id of the signature. Default: the JWK's `kid`. */
  signingKeyId?: string | undefined;
}
