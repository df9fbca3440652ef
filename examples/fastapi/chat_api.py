#!/usr/bin/python3
"""The Chat API's side of the todo functions, as a FastAPI service (app-id chat-api).

Two things the chatbot needs from the functions, each through Dapr:

* POST /users/{user_id}/tasks: the chatbot adds a task (with a reminder).
  It is passed to create-task by Dapr service invocation through this
  service's own sidecar, with an Idempotency-Key (the caller's, or a fresh
  one), and create-task's answer is returned as it is.
* POST /notify: the webhook send-notification delivers reminders to,
  through its Dapr output binding. It takes a delivery only with the bearer
  token (WEBHOOK_TOKEN) and an Idempotency-Key equal to the notification's
  id; a key it has seen is acknowledged and dropped, so a redelivery never
  reaches the user twice. GET /notifications lists what it received.

What it received is kept in memory: a real Chat API stores it with the
conversation and keys the dedupe on the same id.

Environment (Dapr sets the first two for its app):

    PORT            port to serve (default 8000)
    DAPR_HTTP_PORT  the sidecar's HTTP port (default 3500)
    DAPR_API_TOKEN  sent as dapr-api-token when set
    WEBHOOK_TOKEN   the bearer token send-notification must present

FastAPI, uvicorn and httpx come from Debian's packages for /usr/bin/python3
(python3-fastapi, python3-uvicorn, python3-httpx).
"""

import hmac
import json
import logging
import os
import threading
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

# A function at zero replicas takes seconds to start in the cluster.
TIMEOUT_SECONDS = 30

log = logging.getLogger("chat-api")


def problem(status, title, detail):
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail},
                        status_code=status, media_type="application/problem+json")


class Inbox:
    """Notifications received, each once, by id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_id = {}

    def add(self, notification):
        """Records a notification; False when its id was seen before."""
        with self._lock:
            if notification["id"] in self._by_id:
                return False
            self._by_id[notification["id"]] = notification
            return True

    def list(self, user_id=None):
        with self._lock:
            return [n for n in self._by_id.values() if user_id is None or n.get("user_id") == user_id]


def create_app(dapr_http_port, webhook_token, dapr_api_token=None):
    app = FastAPI(title="Chat API", docs_url=None, redoc_url=None)
    inbox = Inbox()
    sidecar = f"http://127.0.0.1:{dapr_http_port}/v1.0/invoke"
    dapr_headers = {"dapr-api-token": dapr_api_token} if dapr_api_token else {}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.post("/users/{user_id}/tasks")
    async def add_task(user_id: str, request: Request):
        body = await request.body()
        # The same key on a retry of this request returns the first task.
        key = request.headers.get("Idempotency-Key") or str(uuid.uuid4())
        headers = {**dapr_headers, "Content-Type": request.headers.get("Content-Type", "application/json"),
                   "Idempotency-Key": key}
        url = f"{sidecar}/create-task/method/users/{quote(user_id, safe='')}/tasks"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                resp = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as err:
            log.warning("create-task unreachable: %s", type(err).__name__)
            return problem(503, "create-task unreachable", "the task was not created; retry with the same Idempotency-Key")
        out = {"Idempotency-Key": key}
        if "Location" in resp.headers:
            out["Location"] = resp.headers["Location"]
        return Response(resp.content, status_code=resp.status_code, headers=out,
                        media_type=resp.headers.get("Content-Type", "application/json"))

    @app.post("/notify")
    async def notify(request: Request):
        auth = request.headers.get("Authorization", "")
        if not webhook_token or not hmac.compare_digest(auth.encode(), f"Bearer {webhook_token}".encode()):
            log.warning("delivery refused: bad or missing bearer token")
            return problem(401, "unauthorized", "a delivery must carry the webhook's bearer token")
        try:
            notification = json.loads(await request.body())
        except ValueError:
            return problem(400, "not JSON", "the body must be a notification in JSON")
        if not isinstance(notification, dict) or not notification.get("id"):
            return problem(400, "no id", "a notification has an id")
        if request.headers.get("Idempotency-Key") != notification["id"]:
            return problem(400, "bad Idempotency-Key", "the Idempotency-Key must be the notification's id")
        notification["received_at"] = datetime.now(timezone.utc).isoformat()
        if not inbox.add(notification):
            log.info("repeated delivery dropped: %s", notification["id"])
            return Response(status_code=200)
        log.info("notification received: %s for task %s", notification["id"], notification.get("task_id"))
        return Response(status_code=200)

    @app.get("/notifications")
    async def notifications(user_id: str = None):
        return {"items": inbox.list(user_id)}

    return app


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(os.environ.get("DAPR_HTTP_PORT", "3500"), os.environ.get("WEBHOOK_TOKEN", ""),
                     os.environ.get("DAPR_API_TOKEN") or None)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), log_level="warning")


if __name__ == "__main__":
    main()
