"""`icchat serve DIR` as a user runs it: the command resolves the bundle as `icchat up --model`
does, names the model after the directory, says where it listens, and answers the openai client."""

from __future__ import annotations

import re
import subprocess
import sys

from openai import OpenAI


def test_icchat_serve_a_bundle_directory(serve_bundle):
    # no --precision: the bundle has no q8 decoder (variants f32), so it is served in f32
    command = [sys.executable, "-m", "icchat", "serve", str(serve_bundle), "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            line = process.stdout.readline()
            url = re.search(r"at (http://127\.0\.0\.1:\d+/v1);", line)
            assert url, line + process.stderr.read() if process.poll() is not None else line
            assert "one reply at a time" in line and ", f32, native onnxruntime)" in line
            client = OpenAI(base_url=url.group(1), api_key="unused", max_retries=0, timeout=60)
            assert [m.id for m in client.models.list()] == [serve_bundle.name]
            reply = client.chat.completions.create(model=serve_bundle.name, max_tokens=2,
                                                   messages=[{"role": "user", "content": "Hi"}])
            assert reply.usage.completion_tokens == 2
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_a_port_in_use_is_one_line(serve_bundle, server):
    port = server.server_address[1]
    done = subprocess.run([sys.executable, "-m", "icchat", "serve", str(serve_bundle), "--port", str(port),
                           "--precision", "f32"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"icchat: error: cannot listen on 127.0.0.1:{port}: "
                                                 "Address already in use"]
