"""`icchat up`'s stack for the e2e tests (icchat.bench._host.LocalStack): the local replica, the
page in the asset canister and the model in the gpt2 canister, reached through the replica's HTTP
gateway at http://<canister id>.localhost:<port>/.

It runs in its own state directory and port, so it never touches a developer's `.state/`.
Tampering, two ways: `upload_changed(path)` tries to replace one model file on the gpt2 canister
without a new manifest (the canister refuses: it returns the reason), and
`tamper_in_flight(context, path)` changes the canister's answer for that file on its way to the
browser (a compromised gateway or network: the page's own SHA-256 check must refuse it; for
manifest.json, the check against the gpt2 canister's certificate). The gpt2 canister runs the
f32 weights by default, so greedy onchain answers can be compared with the f32 on-device ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

from icchat.bench._host import LocalStack

MODEL_PREFIX = "/model/"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class ReplicaStack(LocalStack):
    def __init__(self, bundle: Path, state_dir: Path, onchain_dtype: str = "f32") -> None:
        super().__init__(bundle, state_dir, onchain_dtype)

    @property
    def model_base(self) -> str:
        return self.info.model_base

    @property
    def page_origin(self) -> str:
        return origin(self.page_url)

    @property
    def model_origin(self) -> str:
        return origin(self.model_base)

    @property
    def origins(self) -> set[str]:
        # The page may also call the replica's API (config.json's api_host).
        return {self.page_origin, self.model_origin, f"http://localhost:{self.info.port}",
                f"http://127.0.0.1:{self.info.port}"}

    def upload_changed(self, path: str) -> str:
        """Try to replace one model file with changed bytes, the manifest left as it is; return
        the canister's refusal (raise if it accepted)."""
        from icchat.deploy import sync_folder
        from icchat.deploy.sync import DeployError

        data = bytearray((self.bundle / path).read_bytes())
        data[len(data) // 2] ^= 0xFF
        folder = self.state_dir / "e2e-tamper"
        shutil.rmtree(folder, ignore_errors=True)
        (folder / path).parent.mkdir(parents=True)
        (folder / path).write_bytes(bytes(data))
        try:
            sync_folder(self.controller(), self.info.gpt2, folder, prefix=MODEL_PREFIX, delete_missing=False)
        except DeployError as refused:
            return str(refused)
        raise AssertionError(f"the gpt2 canister accepted {path} with bytes its manifest does not list")

    def set_gpt2_running(self, running: bool) -> None:
        """Stop or start the gpt2 canister (management stop_canister / start_canister)."""
        from icchat.ic import management

        method = "start_canister" if running else "stop_canister"
        management._call(self.controller(), method, {"canister_id": self.info.gpt2}, self.info.gpt2)

    def point_stand_in(self, url: str | None) -> None:
        """Point the "llm" stand-in at the chat-completions `url` (a misbehaving server of a test;
        None: the `icchat serve` the stack started, as `icchat up` does)."""
        from icchat.stack import llm_route, serve_process

        service = serve_process.running(self.state_dir)
        assert service is not None, "the stack's LLM service is not running"
        llm_route.set_endpoint(self.controller(), self.info.llm, url or service.completions_url, service.model)

    def set_inference_policy(self, **fields: object) -> None:
        """set_inference_policy as the stack's controller (the identity `icchat up` made, under the
        test's state directory): the fields named change, the rest stay."""
        from icchat.stack import inference_policy

        inference_policy.set_policy(self.controller(), self.info.gpt2, inference_policy.InferencePolicy(**fields))

    def usage(self) -> dict:
        from icchat.stack import inference_policy

        return inference_policy.read_usage(self.controller(), self.info.gpt2)

    def tamper_in_flight(self, context, path: str) -> None:
        """Flip one byte of the canister's answer for `path` before the browser sees it."""
        url = self.model_base + path
        # Playwright fetches from Node, which does not resolve *.localhost: ask the gateway the
        # same thing through ?canisterId= on 127.0.0.1 (still verified by the gateway)
        direct = f"http://127.0.0.1:{self.info.port}{MODEL_PREFIX}{path}?canisterId={self.info.gpt2}"

        def flip(route) -> None:
            response = route.fetch(url=direct)
            body = bytearray(response.body())
            body[len(body) // 2] ^= 0xFF
            route.fulfill(response=response, body=bytes(body))

        context.route(lambda u: u.split("?", 1)[0] == url, flip)
