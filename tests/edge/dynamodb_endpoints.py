"""Local HTTPS endpoints for the edge functions' DynamoDB reads: a test PKI, a TLS front for the moto server,
and a keep-alive DynamoDB stand-in that checks every signature with botocore and can misbehave on request."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class LocalPKI:
    """A test certificate authority and server certificates it issued (PEM files)."""

    ca_file: Path
    ca_sha256: str  # SHA-256 of the CA certificate (DER), as edge_handler.aws_tls_context matches roots
    server_files: tuple[Path, Path]  # certificate, key: valid for 127.0.0.1 and localhost
    wrong_host_files: tuple[Path, Path]  # issued by the CA for another host name only
    self_signed_files: tuple[Path, Path]  # for 127.0.0.1, but issued by nobody the client trusts

    def client_context(self) -> ssl.SSLContext:
        """What a test passes as DynamoDBClient(tls_context=...): the default context, trusting the test CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer: str, key, signing_key, *, ca: bool, hosts: list[str]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        names = [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                                        critical=False)
        # Python 3.13's default context checks X.509 strictly: an issued certificate must name its issuer's key.
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def make_pki(directory: Path) -> LocalPKI:
    """A fresh test CA and its server certificates under `directory`."""
    def write(stem: str, cert: x509.Certificate, key) -> tuple[Path, Path]:
        cert_file, key_file = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_file, key_file

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("edge-cdn test CA", "edge-cdn test CA", ca_key, ca_key, ca=True, hosts=[])
    ca_file, _ = write("ca", ca, ca_key)
    issued = {}
    for stem, hosts in (("server", ["127.0.0.1", "localhost"]), ("wrong-host", ["dynamodb.example.invalid"])):
        key = ec.generate_private_key(ec.SECP256R1())
        issued[stem] = write(stem, _certificate(hosts[0], "edge-cdn test CA", key, ca_key, ca=False, hosts=hosts), key)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _certificate("127.0.0.1", "127.0.0.1", rogue_key, rogue_key, ca=False, hosts=["127.0.0.1"])
    return LocalPKI(ca_file=ca_file, ca_sha256=hashlib.sha256(ca.public_bytes(serialization.Encoding.DER)).hexdigest(),
                   server_files=issued["server"], wrong_host_files=issued["wrong-host"],
                   self_signed_files=write("self-signed", rogue, rogue_key))


def _server_context(files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(files[0]), str(files[1]))
    return context


class TLSFront:
    """A TLS endpoint on 127.0.0.1 that forwards each connection to a plain-HTTP server (the moto server)."""

    def __init__(self, upstream: tuple[str, int], files: tuple[Path, Path]) -> None:
        self.upstream = upstream
        self.context = _server_context(files)
        self.handshakes = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            client.close()
            return
        self.handshakes += 1
        upstream = socket.create_connection(self.upstream)
        threading.Thread(target=_pump, args=(upstream, tls), daemon=True).start()
        _pump(tls, upstream)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    for sock in (source, target):
        try:
            sock.close()
        except OSError:
            pass


JSON_TYPE = {"Content-Type": "application/x-amz-json-1.0"}


def error_body(kind: str, message: str) -> bytes:
    """A DynamoDB JSON 1.0 error body."""
    return json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{kind}", "message": message}).encode()


class FakeDynamoDB:
    """GetItem over HTTPS with HTTP/1.1 keep-alive, as DynamoDB serves it; counts connections and TLS handshakes.

    Every request's SigV4 signature is recomputed with botocore from what arrived on the wire; a mismatch
    gets AWS's InvalidSignatureException, whose message quotes the canonical request (session token included).
    `respond` changes the answer: a function of the request body returning (status, headers, body), "hang"
    (no answer at all) or "drop" (answer, then close the connection without saying so).
    """

    def __init__(self, files: tuple[Path, Path], secret_key: str = "testing") -> None:
        self.items: dict[tuple[str, str], dict] = {}
        self.tables: set[str] = set()
        self.secret_key = secret_key
        self.connections = 0  # accepted
        self.handshakes = 0  # TLS handshakes completed, full or resumed
        self.resumed = 0  # of which resumed a session
        self.requests: list[dict] = []
        self.respond = None
        fake = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                fake.connections += 1  # called once per incoming connection; the TLS handshake follows
                sock, address = super().get_request()
                fake.handshakes += 1
                fake.resumed += sock.session_reused
                return sock, address

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append({"headers": dict(self.headers), "body": body})
                problem = fake.signature_problem(self.headers, body)
                if problem is not None:
                    status, headers, payload = 400, JSON_TYPE, error_body("InvalidSignatureException", problem)
                elif fake.respond == "hang":
                    time.sleep(5)
                    return
                elif callable(fake.respond):
                    status, headers, payload = fake.respond(body)
                else:
                    status, headers, payload = fake.answer(body)
                self.send_response_only(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                if fake.respond == "drop":
                    self.close_connection = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.socket = _server_context(files).wrap_socket(self._server.socket, server_side=True)
        self.endpoint = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def put(self, table: str, item: dict, key_names: tuple[str, str] = ("config_id", "version")) -> None:
        """Store an item (low-level attribute values) in `table`, creating the table."""
        self.tables.add(table)
        self.items[table, json.dumps({k: item[k] for k in key_names}, sort_keys=True)] = item

    def answer(self, body: bytes) -> tuple[int, dict, bytes]:
        """GetItem as DynamoDB answers it."""
        request = json.loads(body)
        if request["TableName"] not in self.tables:
            return 400, JSON_TYPE, error_body("ResourceNotFoundException", "Requested resource not found")
        item = self.items.get((request["TableName"], json.dumps(request["Key"], sort_keys=True)))
        return 200, JSON_TYPE, json.dumps({"Item": item} if item else {}).encode()

    def signature_problem(self, headers, body: bytes) -> str | None:
        """None if the request is signed as botocore would sign it, else AWS's complaint."""
        authorization = headers.get("Authorization", "")
        try:
            credential = authorization.split("Credential=")[1].split(",")[0]
            access_key, _, region, service, _ = credential.split("/")
            signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        except (IndexError, ValueError):
            return "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters."
        request = AWSRequest(method="POST", url=f"https://{headers['Host']}/", data=body,
                             headers={name: headers[name] for name in signed if name in headers})
        token = headers.get("X-Amz-Security-Token")
        signer = SigV4Auth(Credentials(access_key, self.secret_key, token), service, region)
        request.context["timestamp"] = headers.get("X-Amz-Date", "")
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if authorization.rpartition("Signature=")[2] != expected:
            return ("The request signature we calculated does not match the signature you provided. Check your "
                    "AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n"
                    f"The Canonical String for this request should have been\n'{canonical}'\n")
        return None
