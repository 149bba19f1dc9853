// threadcore serve, driven end to end by the platform's own published client (@rc-ex/core).
//
// tests/test_http_node.py starts `threadcore serve` (SQLite, or PostgreSQL with several workers)
// with the directory and tokens below and runs this file with THREADCORE_URL set. Every
// message-threads operation goes through `rc.restapi().account().messageThreads()`, errors
// through the client's RestException (which carries the platform's error body), and a sync
// client that only ever applies ISync pages must converge on a fresh FSync.
//
// Directory (written by the Python test): Billing Queue 6249888001 (+12092480001; handlers 101
// and 102), Support 6249888002 (+12092480009; handler 201). Tokens: tok-101, tok-102, tok-201.
// Control token: ctl. With MANUAL_CLOCK=1 the clock starts at 2026-02-17T17:00:00Z and moves
// only through the control plane.
import assert from "node:assert/strict";

import RingCentral from "@rc-ex/core";
import RestException from "@rc-ex/core/RestException";
import type MessageThread from "@rc-ex/core/definitions/MessageThread";
import type ThreadMessageModel from "@rc-ex/core/definitions/ThreadMessageModel";

const server = process.env.THREADCORE_URL;
if (!server) throw new Error("THREADCORE_URL is not set");
const manualClock = process.env.MANUAL_CLOCK === "1";

const BILLING = "+12092480001";
const SUPPORT = "+12092480009";
const ANN = "+16502240001";
const BOB = "+16502240002";
const CAROL = "+16502240003";

function client(token: string): RingCentral {
  const rc = new RingCentral({ server });
  rc.token = { access_token: token };
  return rc;
}

const as101 = client("tok-101");
const as102 = client("tok-102");
const as201 = client("tok-201");
/** from and to are required by the reference, threadId or not (with it they are the thread's). */
const onThread = (threadId: string, text?: string) => ({
  threadId, from: { phoneNumber: BILLING }, to: [{ phoneNumber: ANN }], text,
});
const threads = (rc: RingCentral, id: string | null = null) =>
  rc.restapi().account().messageThreads(id);

let steps = 0;
function step(name: string): void {
  steps += 1;
  console.log(`ok ${steps} - ${name}`);
}

/** The platform's error body of a call that must fail, with its HTTP status. */
async function failure(call: Promise<unknown>): Promise<{ status: number; body: any }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof RestException, `not a RestException: ${error}`);
    const body = error.response.data;
    assert.equal(typeof body.errorCode, "string", JSON.stringify(body));
    assert.equal(body.errors[0].errorCode, body.errorCode);
    return { status: error.response.status, body };
  }
  assert.fail("the call succeeded");
}

/** A call of the control plane (plain fetch: it is threadcore's, not the platform's). */
async function control(path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${server}/threadcore/v1/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: "Bearer ctl", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

async function tick(): Promise<void> {
  if (manualClock) await control("clock", { advance: "PT1M" });
}

async function inbound(from: string, to: string, text: string, id?: string) {
  const message = await control("carrier/inbound", { from, to, text, id });
  await tick();
  return message as ThreadMessageModel;
}

// --- a sync client: FSync once, then only ISync, per extension --------------------------------
class ThreadReplica {
  records = new Map<string, MessageThread>();
  token = "";
  constructor(readonly rc: RingCentral) {}

  async fsync(): Promise<Map<string, MessageThread>> {
    const page = await threads(this.rc).sync().get({ syncType: "FSync" });
    assert.equal(page.syncInfo?.syncType, "FSync");
    return new Map((page.records ?? []).map((t) => [t.id!, t]));
  }

  async start(): Promise<void> {
    const page = await threads(this.rc).sync().get({ syncType: "FSync" });
    this.records = new Map((page.records ?? []).map((t) => [t.id!, t]));
    this.token = page.syncInfo!.syncToken!;
  }

  async update(): Promise<number> {
    const page = await threads(this.rc).sync().get({ syncType: "ISync", syncToken: this.token });
    assert.equal(page.syncInfo?.syncType, "ISync");
    for (const thread of page.records ?? []) {
      // What a full sync holds: open, alive threads the extension may see.
      if (thread.status === "Open" && thread.availability === "Alive") {
        this.records.set(thread.id!, thread);
      } else {
        this.records.delete(thread.id!);
      }
    }
    this.token = page.syncInfo!.syncToken!;
    return page.records?.length ?? 0;
  }

  /** ISync, then the replica must hold exactly what a fresh FSync returns. */
  async converges(): Promise<void> {
    await this.update();
    const full = await this.fsync();
    const ids = (m: Map<string, MessageThread>) => [...m.keys()].sort();
    assert.deepEqual(ids(this.records), ids(full), "ISync replica differs from FSync");
    for (const [id, thread] of full) assert.deepEqual(this.records.get(id), thread);
  }
}

async function main(): Promise<void> {
  // --- authentication -------------------------------------------------------------------------
  const unknown = await failure(threads(client("no-such-token")).list());
  assert.equal(unknown.status, 401);
  step("an unknown bearer token is 401 with the platform's body");

  const replica101 = new ThreadReplica(as101);
  const replica201 = new ThreadReplica(as201);
  await replica101.start();
  await replica201.start();

  // --- a customer writes: a thread is created ------------------------------------------------
  const first = await inbound(ANN, BILLING, "my bill is wrong", "carrier-1");
  const threadId = first.threadId!;
  assert.equal(first.direction, "Inbound");
  const again = await control("carrier/inbound", {
    from: ANN, to: BILLING, text: "my bill is wrong", id: "carrier-1",
  });
  assert.equal(again.id, first.id, "a carrier id is taken once");
  step("carrier/inbound creates a thread, idempotent by the carrier's id");

  const list = await threads(as101).list();
  assert.deepEqual(list.records?.map((t) => t.id), [threadId]);
  assert.equal(list.records![0].status, "Open");
  assert.equal(list.records![0].guestParty?.phoneNumber, ANN);
  assert.equal(list.paging?.page, 1);
  assert.equal(list.paging?.perPage, 100);
  const read = await threads(as101, threadId).get();
  assert.deepEqual(read, list.records![0]);
  step("list and read a thread");

  const outsider = await failure(threads(as201, threadId).get());
  assert.equal(outsider.status, 404);
  assert.equal(outsider.body.errorCode, "ThreadNotFound");
  assert.deepEqual((await threads(as201).list()).records, []);
  step("a handler of another resource neither reads nor lists the thread (404)");

  const badTime = await failure(threads(as101).list({ creationTimeFrom: "yesterday" }));
  assert.equal(badTime.status, 422, "InvalidInput's status (docs/rules.md R17)");
  assert.equal(badTime.body.errors[0].parameterName, "creationTimeFrom");
  const filtered = await threads(as101).list({
    threadStatus: "Open", availability: ["Alive", "Deleted"], guestPhoneNumber: ANN, perPage: 5000,
  });
  assert.equal(filtered.records?.length, 1);
  assert.equal(filtered.paging?.perPage, 1000, "perPage above 1000 is clamped");
  step("query parameters: arrays repeated, perPage clamped, a bad time names its parameter");

  await replica101.converges();
  await replica201.converges();
  step("ISync replicas converge on FSync");

  // --- assign, send -----------------------------------------------------------------------
  const assigned = await threads(as102, threadId).assign().post({ assignee: { extensionId: "101" } });
  assert.equal(assigned.assignee?.extensionId, "101");
  await tick();
  const notHandler = await failure(
    threads(as101, threadId).assign().post({ assignee: { extensionId: "201" } }),
  );
  assert.ok(notHandler.status >= 400 && notHandler.status < 500);
  step("assign to a handler; assigning to a non-handler is refused");

  const blocked = await failure(
    threads(as102).messages().post({ metadata: onThread(threadId, "let me look") }),
  );
  assert.ok([403, 409].includes(blocked.status), `${blocked.status} ${JSON.stringify(blocked.body)}`);
  const reply = await threads(as101).messages().post({ metadata: onThread(threadId, "let me look") });
  assert.equal(reply.threadId, threadId);
  assert.equal(reply.direction, "Outbound");
  assert.equal(reply.text, "let me look");
  await tick();
  const byNumbers = await threads(as101).messages().post({
    metadata: { from: { phoneNumber: BILLING }, to: [{ phoneNumber: ANN }], text: "found it" },
  });
  assert.equal(byNumbers.threadId, threadId, "a send by numbers routes to the open thread");
  await tick();
  const noText = await failure(threads(as101).messages().post({ metadata: onThread(threadId) }));
  assert.equal(noText.status, 422);
  step("only the assignee sends; a send by thread id or by numbers lands on the thread");

  // --- attachments ---------------------------------------------------------------------------
  const picture = new Uint8Array(4096).map((_, i) => (i * 7) % 256);
  const mms = await threads(as101).messages().post({
    metadata: onThread(threadId, "your invoice"),
    attachments: [
      { filename: "invoice.bin", content: picture, contentType: "application/octet-stream" },
      { filename: "note.txt", content: "thanks, Ann", contentType: "text/plain" },
    ],
  });
  await tick();
  const entries = mms.attachments ?? [];
  assert.equal(entries.length, 2);
  assert.deepEqual(
    entries.map((e) => [e.id, e.filename, e.contentType, e.size]),
    [["1", "invoice.bin", "application/octet-stream", 4096], ["2", "note.txt", "text/plain", 11]],
  );
  // The typed path messages().content(id) carries no message id (a gap of the 1.8.6 client), so
  // the content is read at the attachment's contentUri, as a client of the platform follows it.
  const path = (uri?: string) => new URL(uri!).pathname;
  const bytes = await as101.get<ArrayBuffer>(path(entries[0].contentUri), undefined, {
    responseType: "arraybuffer",
  });
  assert.deepEqual(new Uint8Array(bytes.data), picture);
  const text = await as101.get<ArrayBuffer>(path(entries[1].contentUri), undefined, {
    responseType: "arraybuffer",
  });
  assert.equal(Buffer.from(text.data).toString("utf8"), "thanks, Ann");
  const missing = await failure(
    as101.get(path(entries[0].contentUri).replace(/\/content\/1$/, "/content/9")),
  );
  assert.equal(missing.status, 404);
  const tooMany = await failure(
    threads(as101).messages().post({
      metadata: onThread(threadId, "too many"),
      attachments: Array.from({ length: 11 }, (_, i) => ({
        filename: `f${i}.txt`, content: "x", contentType: "text/plain",
      })),
    }),
  );
  assert.equal(tooMany.status, 413);
  step("multipart send with attachments, content served back; too many files is 413");

  // --- messages --------------------------------------------------------------------------------
  const messages = await threads(as101).messages().get({ threadIds: [threadId] });
  assert.deepEqual(
    messages.records?.map((m) => m.id),
    [first.id, reply.id, byNumbers.id, mms.id],
  );
  const one = await threads(as101).messages().get({ messageIds: [reply.id!, "nope"] });
  assert.deepEqual(one.records?.map((m) => m.id), [reply.id]);
  await threads(as101).messages().delete({ ids: [byNumbers.id!] });
  await tick();
  const alive = await threads(as101).messages().get({ threadIds: [threadId] });
  assert.equal(alive.records?.length, 3);
  const deleted = await threads(as101).messages().get({
    threadIds: [threadId], availability: ["Deleted"],
  });
  assert.deepEqual(deleted.records?.map((m) => m.id), [byNumbers.id]);
  step("list messages by thread and by id; delete a message");

  // --- the carrier: outbound relay and delivery status ------------------------------------
  const outbound = await control("carrier/outbound?after=0&limit=100");
  const relayed = (outbound.records as { message: ThreadMessageModel }[]).map((r) => r.message.id);
  assert.ok(relayed.includes(reply.id!), JSON.stringify(outbound));
  await control("carrier/status", { messageId: reply.id, status: "Delivered" });
  await tick();
  const delivered = await threads(as101).messages().get({ messageIds: [reply.id!] });
  assert.equal(delivered.records![0].messageStatus, "Delivered");
  step("the carrier relays outbound messages and reports delivery");

  // --- notes -----------------------------------------------------------------------------
  const note = await threads(as101).notes().post({ threadId, text: "called her back" });
  await tick();
  assert.equal(note.text, "called her back");
  const patched = await threads(as101).notes(note.id!).patch({ text: "called her back twice" });
  await tick();
  assert.equal(patched.text, "called her back twice");
  const foreign = await failure(threads(as102).notes(note.id!).patch({ text: "mine now" }));
  assert.ok(foreign.status >= 400 && foreign.status < 500);
  const notes = await threads(as102).notes().get({ threadIds: [threadId] });
  assert.deepEqual(notes.records?.map((n) => n.text), ["called her back twice"]);
  const second = await threads(as102).notes().post({ threadId, text: "temporary" });
  await threads(as102).notes().delete({ ids: [second.id!] });
  await tick();
  assert.equal((await threads(as101).notes().get({ threadIds: [threadId] })).records?.length, 1);
  step("create, update, list and delete notes; only the author edits");

  // --- entries sync ----------------------------------------------------------------------------
  const entriesFull = await threads(as101).entries().sync().get({ syncType: "FSync" });
  const entryIds = new Set((entriesFull.records ?? []).map((e: any) => e.id));
  for (const id of [first.id, reply.id, mms.id, note.id]) assert.ok(entryIds.has(id), `${id}`);
  assert.ok(!entryIds.has(byNumbers.id), "a deleted message is not in a full sync");
  await inbound(ANN, BILLING, "thank you");
  const entriesInc = await threads(as101).entries().sync().get({
    syncType: "ISync", syncToken: entriesFull.syncInfo!.syncToken!,
  });
  assert.ok(
    (entriesInc.records ?? []).some((e: any) => e.text === "thank you"),
    JSON.stringify(entriesInc.records),
  );
  const explicit = await threads(as101).entries().sync().get({
    scope: "Explicit", threadIds: [threadId],
  });
  assert.ok((explicit.records ?? []).length >= 4);
  step("entries FSync and ISync, Explicit scope");

  await replica101.converges();
  step("the thread replica converges after assigns, sends and deletions");

  // --- resolve, expiry, directory, delete ---------------------------------------------------
  const resolved = await threads(as101, threadId).resolve().post();
  await tick();
  assert.equal(resolved.status, "Resolved");
  assert.equal(resolved.assignee, undefined, "resolving clears the assignee");
  const twice = await failure(threads(as101, threadId).resolve().post());
  assert.ok(twice.status >= 400 && twice.status < 500);
  const closed = await failure(threads(as101).notes().post({ threadId, text: "late" }));
  assert.ok(closed.status >= 400 && closed.status < 500);
  step("resolve a thread; resolving it again and noting on it are refused");

  const bob = await inbound(BOB, BILLING, "hello?");
  const carol = await inbound(CAROL, SUPPORT, "support please");
  await threads(as201, carol.threadId!).assign().post({ assignee: { extensionId: "201" } });
  await tick();
  await replica201.converges();
  if (manualClock) {
    await control("clock", { advance: "PT72H" });
    const expired = await threads(as101, bob.threadId!).get();
    assert.equal(expired.status, "Resolved", "72 hours without messages resolve a thread");
    step("the control plane moves the clock 72 hours: the thread expires");
  }

  const dave = await inbound("+16502240004", SUPPORT, "anyone?");
  await threads(as201, dave.threadId!).assign().post({ assignee: { extensionId: "201" } });
  await tick();
  const removed = await control("directory/remove-handler", {
    extensionId: "6249888002", handlerId: "201",
  });
  assert.ok(JSON.stringify(removed).includes(dave.threadId!), JSON.stringify(removed));
  const gone = await failure(threads(as201, dave.threadId!).get());
  assert.equal(gone.status, 404);
  await control("directory/add-handler", { extensionId: "6249888002", handlerId: "201" });
  const back = await threads(as201, dave.threadId!).get();
  assert.equal(back.assignee, undefined, "a removed handler's threads were unassigned");
  step("removing a handler unassigns its threads and hides them; adding it back shows them");

  await threads(as201, dave.threadId!).delete();
  await tick();
  const afterDelete = await threads(as201).list({ availability: ["Deleted"] });
  assert.ok(afterDelete.records?.some((t) => t.id === dave.threadId));
  const aliveOnly = await threads(as201).list();
  assert.ok(!aliveOnly.records?.some((t) => t.id === dave.threadId));
  step("delete a thread: listed only as Deleted");

  await replica101.converges();
  await replica201.converges();
  step("both replicas converge at the end");

  // --- the account id and unknown routes ------------------------------------------------
  const other = await failure(as101.get("/restapi/v1.0/account/999/message-threads"));
  assert.equal(other.status, 404);
  step("another account's path is 404");
  console.log(`1..${steps}`);
}

main().catch((error) => {
  if (error instanceof RestException) {
    console.error("RestException", error.response.status, JSON.stringify(error.response.data));
  }
  console.error(error);
  process.exit(1);
});
