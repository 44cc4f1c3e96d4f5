import type { ChatMessage } from "./llm_client.ts";

/**
 * The SHA-256 (lowercase hex) of a conversation, as sent to the model: the
 * prompt hash kept with every attempt and in the provenance of the signed
 * manifest.
 */
export async function promptSha256(
  messages: readonly ChatMessage[],
): Promise<string> {
  const text = JSON.stringify(
    messages.map((m) => ({ role: m.role, content: m.content })),
  );
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
