/**
 * `host:port` as every address in cap-edge is written: a DNS name or an IPv4
 * address (at most 253 characters), or an IPv6 address in brackets, then a
 * port of up to five digits. Group 1 is the host, group 2 the port (check
 * that it is at most 65535).
 *
 * @example
 * ```ts
 * import { HOST_PORT } from "./host_port.ts";
 * const match = HOST_PORT.exec("[::1]:50051");
 * if (match?.[1] !== "[::1]" || match[2] !== "50051") throw new Error("no");
 * ```
 */
export const HOST_PORT: RegExp =
  /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})$/;
