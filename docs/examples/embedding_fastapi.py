"""Seven endpoints of the platform's API in a FastAPI service over an inbox it embeds."""

from fastapi import Depends, FastAPI, Request

from threadcore import AsyncInbox, http, wire

BASE = "/restapi/v1.0/account/~/message-threads"


def create_service(inbox: AsyncInbox, tokens: dict[str, str], carrier_token: str) -> FastAPI:
    app = FastAPI(exception_handlers=http.exception_handlers())  # errors in the platform's body
    user, reader = Depends(http.Caller(tokens)), Depends(http.Caller(tokens, reads_query=True))

    @app.get(BASE)  # a reader's query is read (and an unknown parameter refused) by its loader
    async def list_threads(request: Request, actor: str = reader):
        q = wire.load_thread_query(request.query_params.multi_items())
        return wire.dump_thread_list(await inbox.numbered_page(actor=actor, **q.arguments()))

    @app.get(BASE + "/sync")
    async def sync(request: Request, actor: str = reader):
        q = wire.load_sync_query(request.query_params.multi_items())
        return wire.dump_thread_sync(await inbox.sync(actor=actor, **q.arguments()))

    @app.post(BASE + "/messages")  # JSON, or a multipart form with files
    async def send(request: Request, actor: str = user):
        sent = await http.send_message(inbox, actor, *await http.read_send(request))
        return http.with_attachment_entries(wire.dump_message(sent), request)

    @app.get(BASE + "/{thread_id}")
    async def get_thread(thread_id: str, actor: str = user):
        return wire.dump_thread(await inbox.get(thread_id, actor=actor))

    @app.post(BASE + "/{thread_id}/assign")
    async def assign(request: Request, thread_id: str, actor: str = user):
        assignee = wire.load_assign_request(await http.read_json(request))
        with wire.renaming(wire.ASSIGN_NAMES):  # assignee.extensionId, as the request names it
            return wire.dump_thread(await inbox.assign(thread_id, actor=actor, assignee=assignee))

    @app.post(BASE + "/{thread_id}/resolve")
    async def resolve(thread_id: str, actor: str = user):
        return wire.dump_thread(await inbox.resolve(thread_id, actor=actor))

    @app.post("/threadcore/v1/carrier/inbound")  # the carrier's webhook: a customer's SMS
    async def inbound(request: Request, _: str = Depends(http.Caller({carrier_token: ""}))):
        sms = wire.load_carrier_inbound(await http.read_json(request))
        with wire.renaming(wire.INBOUND_NAMES):  # from, to, text, id: as the carrier names them
            message = await inbox.receive(**sms.arguments())
        return http.with_attachment_entries(wire.dump_message(message), request)

    return app
