/**
 * Shared fixture of the link tests: an RpcServer over an in-memory pipe with fault
 * hooks, a session opened for the test host, and an RpcClient on the other end.
 */
import { RpcClient, type RpcOptions } from '../src/link/rpc.js';
import { RpcServer, type Handler, type ServerOptions } from '../src/link/server.js';
import { memoryPair, type FaultHook } from '../src/link/transport-memory.js';

/** Open a session on `server` for a test host (as its Hello would, without a frame); returns the session id. */
export function openSession(server: RpcServer, hostNonce = 1): number {
  const h = server.sessions.hello({ hostName: 'test', hostNonce, takeOver: false });
  if (h.status !== 'OK') throw new Error('board busy');
  return h.sessionId;
}

export interface RpcLinkOptions {
  aToB?: FaultHook;
  bToA?: FaultHook;
  server?: ServerOptions;
  client?: RpcOptions;
}

/** `handler` served over a memory pipe; the client's session is open. Close the client when done. */
export function rpcLink(handler: Handler, o: RpcLinkOptions = {}): { client: RpcClient; server: RpcServer } {
  const { a, b } = memoryPair({ aToB: o.aToB, bToA: o.bToA });
  const server = new RpcServer(handler, o.server);
  void server.serve(b);
  const client = new RpcClient(a, o.client);
  client.session = openSession(server);
  return { client, server };
}
