"""A throw-away S3-compatible server on loopback for the test run (like tests/redisserver.py).

moto's standalone server (``python -m moto.server``, from ``moto[server]`` in
requirements-dev.txt) in its own process on a free port; everything it holds lives in
that process's memory and goes with it. It speaks the S3 REST protocol over real HTTP,
so the app talks to it through boto3 exactly as it would to AWS S3, MinIO, Ceph or R2.
Tests make their own bucket (``new_bucket``), so workers of pytest-xdist, each with its
own server, and tests in one worker never share objects.

The ``s3_server`` fixture is imported by tests/conftest.py: one server per session (per
xdist worker), started the first time a test asks for it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from tests.pgserver import free_port

ACCESS_KEY = "gestor-teste"
SECRET_KEY = "gestor-teste-segredo"
REGION = "us-east-1"


class S3Server:
    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "S3Server":
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY,
                   AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not start")

    def client(self):
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY)

    def new_bucket(self, client=None) -> str:
        name = f"gestor-{uuid.uuid4().hex[:20]}"
        (client or self.client()).create_bucket(Bucket=name)
        return name

    def config(self, bucket: str, **extra) -> dict:
        """The app's settings for this server (what the environment variables give)."""
        return {"ATTACHMENT_STORAGE": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": self.url,
                "S3_REGION": REGION, "S3_ACCESS_KEY_ID": ACCESS_KEY,
                "S3_SECRET_ACCESS_KEY": SECRET_KEY, **extra}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def keys(client, bucket: str, prefix: str = "") -> list[str]:
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [item["Key"] for item in page.get("Contents", [])]
    return sorted(found)


def empty(client, bucket: str) -> None:
    for key in keys(client, bucket):
        client.delete_object(Bucket=bucket, Key=key)


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on loopback, started once for the run if a test asks."""
    server = S3Server().start()
    yield server
    server.stop()
