import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  decodeBase64,
  encodeBase64,
  pae,
  PROGRAM_PAYLOAD_TYPE,
} from "./dsse.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("pae matches the DSSE specification's example", () => {
  // From the DSSE protocol document.
  const bytes = pae(
    "http://example.com/HelloWorld",
    new TextEncoder().encode("hello world"),
  );
  assertEquals(
    text(bytes),
    "DSSEv1 29 http://example.com/HelloWorld 11 hello world",
  );
});

Deno.test("pae counts bytes, not characters, and keeps the body raw", () => {
  const body = new Uint8Array([0xe2, 0x82, 0xac, 0x00, 0xff]);
  const bytes = pae("é", body);
  const head = new TextEncoder().encode("DSSEv1 2 é 5 ");
  assertEquals(bytes.slice(0, head.byteLength), head);
  assertEquals(bytes.slice(head.byteLength), body);
});

Deno.test("pae of the program payload type and an empty body", () => {
  assertEquals(
    text(pae(PROGRAM_PAYLOAD_TYPE, new Uint8Array())),
    `DSSEv1 37 ${PROGRAM_PAYLOAD_TYPE} 0 `,
  );
});

Deno.test("base64 round-trips every byte value", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (let n = 0; n <= 5; n++) {
    const slice = bytes.slice(0, 250 + n);
    assertEquals(decodeBase64(encodeBase64(slice)), slice);
  }
  assertEquals(decodeBase64(""), new Uint8Array());
});

Deno.test("decodeBase64 refuses anything but strict standard base64", () => {
  for (
    const bad of [
      "AQI", // missing padding
      "AQ==AQ==", // padding in the middle
      "AQI=\n", // whitespace
      " AQI=",
      "A QI=",
      // Whitespace the decoder itself would skip, in multiples of four.
      "AQI=\n\n\n\n",
      "AQ==    ",
      "    AQID",
      "AQ  ID  AQ==",
      "AQ\tI\r\nD=\n",
      "AQID\n\n\n\nAQ==\n\n\n\n",
      "-_8=", // URL-safe alphabet
      "AR==", // stray bits in the last chunk
      "AQ=",
      "====",
      "é===",
    ]
  ) {
    assertEquals(decodeBase64(bad), undefined, bad);
  }
  assertEquals(decodeBase64("+/8="), new Uint8Array([0xfb, 0xff]));
});
