"""Run code in a kernel of a running Jupyter server through its REST and websocket API,
as the browser does."""

import json
import urllib.request
import uuid

import websocket


class JupyterKernel:
    def __init__(self, base_url: str, token: str, kernel_name: str):
        self.base_url, self.token = base_url.rstrip("/"), token
        self.kernel_id = self._post("/api/kernels", {"name": kernel_name})["id"]
        ws_url = self.base_url.replace("http", "ws", 1)
        self.socket = websocket.create_connection(
            f"{ws_url}/api/kernels/{self.kernel_id}/channels?token={token}", timeout=300
        )

    def _post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def execute(self, code: str) -> dict:
        """Run `code`; return its result's text, its stdout and stderr, and its status."""
        msg_id = uuid.uuid4().hex
        self.socket.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "test",
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                    },
                }
            )
        )
        outcome = {"result": None, "stdout": "", "stderr": "", "status": None, "error": None}
        while outcome["status"] is None or not outcome.get("idle"):
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "execute_result":
                outcome["result"] = content["data"].get("text/plain")
            elif kind == "stream":
                outcome[content["name"]] += content["text"]
            elif kind == "error":
                outcome["error"] = f"{content['ename']}: {content['evalue']}"
                outcome["traceback"] = "\n".join(content["traceback"])
            elif kind == "execute_reply":
                outcome["status"] = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                outcome["idle"] = True
        return outcome

    def shutdown(self) -> None:
        self.socket.close()
        request = urllib.request.Request(
            f"{self.base_url}/api/kernels/{self.kernel_id}",
            headers={"Authorization": f"token {self.token}"},
            method="DELETE",
        )
        urllib.request.urlopen(request, timeout=60).close()
