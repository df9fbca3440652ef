#!/usr/bin/env python3
"""What the Chat API does with the todo functions, through its own Dapr sidecar.

Creates a task for a user, lists the user's pending tasks and sends the user
a message, each by Dapr service invocation:

    POST http://127.0.0.1:$DAPR_HTTP_PORT/v1.0/invoke/<app-id>/method/<path>

Standard library only. The contract of every call is docs/api/openapi.yaml.

Usage:
    DAPR_HTTP_PORT=3500 python3 chat_api_client.py USER_ID [--title TITLE]
        [--due-in-minutes N] [--message TEXT]

Prints one JSON object: {"task": ..., "tasks": [...], "notification": ...}.
Exits 1 when a call fails (the problem document goes to stderr), 2 on bad
arguments.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

TIMEOUT_SECONDS = 30


class CallFailed(Exception):
    """A call answered with an error status, or did not answer."""

    def __init__(self, what, status, body):
        super().__init__(f"{what}: {status}")
        self.what = what
        self.status = status
        self.body = body


class Functions:
    """The todo functions, reached through the local Dapr sidecar."""

    def __init__(self, dapr_http_port, api_token=None):
        self.base = f"http://127.0.0.1:{dapr_http_port}/v1.0/invoke"
        # DAPR_API_TOKEN protects the sidecar's own API when it is set.
        self.api_token = api_token

    def call(self, app_id, method, path, body=None, headers=None, query=None):
        url = f"{self.base}/{app_id}/method/{path.lstrip('/')}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        req_headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            req_headers["Content-Type"] = "application/json"
        if self.api_token:
            req_headers["dapr-api-token"] = self.api_token
        req_headers.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=req_headers)
        what = f"{method} {app_id} /{path.lstrip('/')}"
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:
                raw = resp.read()
                return resp.status, resp.headers, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {"detail": raw.decode("utf-8", "replace")}
            raise CallFailed(what, err.code, problem) from None
        except (urllib.error.URLError, OSError) as err:
            raise CallFailed(what, None, {"detail": str(getattr(err, "reason", err))}) from None

    def create_task(self, user_id, task, idempotency_key):
        # The key makes a retry of this very request safe: a second POST
        # with the same key and body answers with the same task.
        status, headers, body = self.call(
            "create-task", "POST", f"users/{quote(user_id)}/tasks",
            body=task, headers={"Idempotency-Key": idempotency_key})
        expect(status, 201, "create-task")
        return body, headers.get("Location")

    def list_tasks(self, user_id, **query):
        items, cursor = [], None
        while True:
            q = dict(query)
            if cursor:
                q["cursor"] = cursor
            status, _, page = self.call("list-tasks", "GET", f"users/{quote(user_id)}/tasks", query=q)
            expect(status, 200, "list-tasks")
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def send_notification(self, user_id, title, body):
        status, _, notification = self.call(
            "send-notification", "POST", "notifications",
            body={"user_id": user_id, "title": title, "body": body})
        expect(status, 202, "send-notification")
        return notification


def quote(segment):
    return urllib.parse.quote(segment, safe="")


def expect(got, want, what):
    if got != want:
        raise CallFailed(what, got, {"detail": f"expected status {want}"})


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("user_id", help="the chat user the task and the message are for")
    p.add_argument("--title", default="Water the plants", help="title of the task to create")
    p.add_argument("--due-in-minutes", type=int, default=60, help="the task is due this many minutes from now")
    p.add_argument("--message", default=None, help="text of the message to send (default: names the task)")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    port = os.environ.get("DAPR_HTTP_PORT", "3500")
    if not port.isdigit():
        print(json.dumps({"error": "DAPR_HTTP_PORT must be a port number"}), file=sys.stderr)
        return 2
    fns = Functions(port, os.environ.get("DAPR_API_TOKEN") or None)

    due = (datetime.now(timezone.utc) + timedelta(minutes=args.due_in_minutes)).replace(microsecond=0)
    try:
        task, location = fns.create_task(
            args.user_id,
            {"title": args.title, "priority": "medium", "tags": ["chat"], "due_at": due.isoformat()},
            idempotency_key=str(uuid.uuid4()))
        pending = fns.list_tasks(args.user_id, status="pending", sort="due_at")
        text = args.message or f"Added \u201c{task['title']}\u201d, due {task['due_at']}."
        notification = fns.send_notification(args.user_id, "Task added", text)
    except CallFailed as err:
        print(json.dumps({"error": str(err), "status": err.status, "problem": err.body}), file=sys.stderr)
        return 1
    print(json.dumps({"task": task, "location": location, "tasks": pending, "notification": notification}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
