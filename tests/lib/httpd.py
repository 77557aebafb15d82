#!/usr/bin/env python3
"""A small threaded HTTP/1.1 file server for the updater's tests (stdlib only).

Usage:
    httpd.py --root DIR --port-file FILE [--fault SPEC]... [--log FILE]
             [--tls-cert PEM --tls-key PEM]

It binds 127.0.0.1 on a free port (port 0) and, once listening, writes the
port number (decimal, newline-terminated) to --port-file atomically (a
temporary file renamed into place), so a test can poll for the file and read
it whole. Every accepted connection gets TCP_NODELAY.

GET and HEAD serve regular files under --root (anything outside it, or not a
regular file, is 404) with a correct Content-Length and "Accept-Ranges:
bytes". A single "Range: bytes=A-B", "bytes=A-" or "bytes=-N" is answered
206 with "Content-Range: bytes A-B/SIZE"; a range starting at or beyond the
end is 416 with "Content-Range: bytes */SIZE". Several ranges
("bytes=A-B,C-D,...") are answered 206 "multipart/byteranges; boundary=..."
with one part per satisfiable range, in the order asked (a single satisfiable
one as a plain 206; none: 416). Garbage Range values are ignored and the whole
file is sent with 200, as RFC 9110 allows. Connections are kept alive between
requests.

--fault SPEC changes the behaviour; it may be given several times, and one
SPEC may also hold several faults separated by commas:

    status=N             every request is answered with status N (e.g. 404,
                         500) and a short text body
    status500-first=N    the first N requests (counted over GET and HEAD) get
                         500, later ones are served normally
    no-range             Range is ignored: always 200 with the whole file
    no-multirange        a Range with several ranges is ignored: 200 with the
                         whole file (one range is still served 206)
    single-range         a Range with several ranges is answered with the
                         first one only, as a plain 206 (as some servers do)
    coalesce             a Range with several ranges is answered with one
                         plain 206 from the first one's start to the last
                         one's end, gaps included (RFC 9110 allows it)
    wrong-range[=SHIFT][:times=K]
                         every Content-Range (of a 206, or of each part) is
                         shifted up by SHIFT bytes (default 1); the data is not
    short-part=BYTES[:times=K]
                         the first part of a 206 (multipart or not) is cut
                         BYTES short of its Content-Range, and the answer ends
                         there: Content-Length counts what is sent, then the
                         connection closes
    bad-boundary[:times=K]
                         the delimiter after the first part of a multipart
                         answer names another boundary
    no-boundary          a multipart answer's Content-Type has no boundary
    part-header=BYTES    each part header gets an "X-Padding" line of BYTES
    stall-after=BYTES[:times=K]
                         send the headers and BYTES of the body, then hang
                         without closing (until the server is stopped)
    reset-after=BYTES[:times=K]
                         send BYTES of the body, then close abruptly with
                         SO_LINGER 0 so the client sees a TCP RST
    drip=BYTES_PER_SEC   send bodies at about this rate (a fraction is allowed:
                         drip=0.5 sends one byte every 2 s)
    close-after=BYTES[:times=K]
                         send BYTES of the body, then close normally (FIN):
                         the Content-Length announced more than was sent
    short-length[=N]     declare a Content-Length N bytes (default 1024)
                         larger than the body that is sent, then close the
                         connection normally (FIN) after the real body
    long-body=N[:close]  declare a Content-Length N bytes smaller than the
                         body: its last N bytes are sent where the next
                         response on the kept-alive connection should start
                         (when the next request arrives); with ":close" they
                         follow at once, then "Connection: close" ends it
    oversize=BYTES       a whole-file (200) response goes on with BYTES of
                         zeros after the file, counted in its Content-Length
    huge-header=BYTES    add an "X-Padding" header line of BYTES characters
    redirect=URL         answer every request with 302 and
                         "Location: URL<request path>" (test extension)
    redirect-chain=N     a request is redirected N times on this server
                         (to /hop/N-1/PATH, ..., /hop/0/PATH, which serves PATH)

stall-after, reset-after and close-after only fire on a response whose body is longer than
BYTES; with ":times=K" they (and wrong-range, short-part, bad-boundary) fire for
the first K such responses only (default: every one).

--tls-cert/--tls-key (test extension) serve HTTPS instead of HTTP.

--log FILE appends one line per request:
    METHOD PATH range=RANGE|- status=STATUS sent=BODY_BYTES [fault=NAME]
(a stalled request is logged when the stall begins, with fault=stall; a
response the client hung up on is logged with fault=client-closed).

SIGTERM or SIGINT stop the server cleanly (stalled requests are released)
and it exits 0. Bad arguments exit 2.
"""

import argparse
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

CHUNK = 64 * 1024
RANGES_RE = re.compile(r"^\s*bytes\s*=(.*)$", re.IGNORECASE)
SPEC_RE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
BOUNDARY = "updater-test-0123456789"
UNSATISFIABLE = "unsatisfiable"


def parse_count(text, what):
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what}: not a number: {text!r}") from None
    if value < 0:
        raise ValueError(f"{what}: must not be negative")
    return value


class Faults:
    """The parsed --fault options."""

    def __init__(self, specs):
        self.status = None
        self.status500_first = 0
        self.no_range = False
        self.stall_after = None
        self.stall_times = None
        self.reset_after = None
        self.reset_times = None
        self.close_after = None
        self.close_times = None
        self.drip = None
        self.short_length = None
        self.long_body = None
        self.long_body_close = False
        self.oversize = None
        self.huge_header = None
        self.redirect = None
        self.redirect_chain = None
        self.no_multirange = False
        self.single_range = False
        self.coalesce = False
        self.wrong_range = None
        self.wrong_range_times = None
        self.short_part = None
        self.short_part_times = None
        self.bad_boundary = False
        self.bad_boundary_times = None
        self.no_boundary = False
        self.part_header = None
        for spec in specs:
            for item in spec.split(","):
                if item.strip():
                    self._parse(item.strip())

    @staticmethod
    def _bytes_and_times(name, value):
        size, _, rest = value.partition(":")
        times = None
        if rest:
            key, _, count = rest.partition("=")
            if key != "times":
                raise ValueError(f"{name}: unknown option {rest!r}")
            times = parse_count(count, name)
        return parse_count(size, name), times

    def _parse(self, item):
        name, has_value, value = item.partition("=")
        if self._parse_multipart(item):
            return
        if name == "status" and has_value:
            self.status = parse_count(value, name)
        elif name == "status500-first" and has_value:
            self.status500_first = parse_count(value, name)
        elif name == "no-range" and not has_value:
            self.no_range = True
        elif name == "stall-after" and has_value:
            self.stall_after, self.stall_times = self._bytes_and_times(name, value)
        elif name == "reset-after" and has_value:
            self.reset_after, self.reset_times = self._bytes_and_times(name, value)
        elif name == "close-after" and has_value:
            self.close_after, self.close_times = self._bytes_and_times(name, value)
        elif name == "drip" and has_value:
            try:
                self.drip = float(value)
            except ValueError:
                raise ValueError(f"drip: not a number: {value!r}") from None
            if not self.drip > 0:
                raise ValueError("drip: rate must be positive")
        elif name == "long-body" and has_value:
            size, _, opt = value.partition(":")
            if opt not in ("", "close"):
                raise ValueError(f"long-body: unknown option {opt!r}")
            self.long_body, self.long_body_close = parse_count(size, name), opt == "close"
        elif name == "oversize" and has_value:
            self.oversize = parse_count(value, name)
        elif name == "huge-header" and has_value:
            self.huge_header = parse_count(value, name)
        elif name == "redirect-chain" and has_value:
            self.redirect_chain = parse_count(value, name)
        elif name == "short-length":
            self.short_length = parse_count(value, name) if has_value else 1024
        elif name == "redirect" and has_value:
            self.redirect = value
        else:
            raise ValueError(f"unknown fault {item!r}")


    def _parse_multipart(self, item):
        """The faults of multi-range answers; False if ITEM is none of them."""
        base, _, times = item.partition(":")
        name, has_value, value = base.partition("=")
        if name not in ("no-multirange", "single-range", "coalesce", "wrong-range", "short-part",
                        "bad-boundary", "no-boundary", "part-header"):
            return False
        count = None
        if times:
            key, _, num = times.partition("=")
            if key != "times" or name not in ("wrong-range", "short-part", "bad-boundary"):
                raise ValueError(f"{name}: unknown option {times!r}")
            count = parse_count(num, name)
        if has_value and name not in ("wrong-range", "short-part", "part-header"):
            raise ValueError(f"{name}: no value expected")
        if not has_value and name in ("short-part", "part-header"):
            raise ValueError(f"{name}: value expected")
        if name == "wrong-range":
            self.wrong_range, self.wrong_range_times = parse_count(value, name) if has_value else 1, count
        elif name == "short-part":
            self.short_part, self.short_part_times = parse_count(value, name), count
        elif name == "bad-boundary":
            self.bad_boundary, self.bad_boundary_times = True, count
        elif name == "part-header":
            self.part_header = parse_count(value, name)
        else:
            setattr(self, name.replace("-", "_"), True)
        return True


class State:
    """What the handler threads share: faults, counters, the log, stop."""

    def __init__(self, root, faults, log_path):
        self.root = os.path.realpath(root)
        self.faults = faults
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.requests = 0
        self.fired = {"stall": 0, "reset": 0, "close": 0, "wrong-range": 0, "short-part": 0,
                      "bad-boundary": 0}
        self.log_file = open(log_path, "a", buffering=1) if log_path else None

    def count_request(self):
        with self.lock:
            self.requests += 1
            return self.requests - 1

    def take(self, fault, times):
        """True if a stall/reset may fire once more (times None = always)."""
        with self.lock:
            if times is not None and self.fired[fault] >= times:
                return False
            self.fired[fault] += 1
            return True

    def log(self, line):
        if self.log_file:
            with self.lock:
                self.log_file.write(line + "\n")


def parse_spec(spec, size):
    """(start, end) with end exclusive, UNSATISFIABLE, or None to ignore."""
    m = SPEC_RE.match(spec)
    if not m or m.group(1) == m.group(2) == "":
        return None
    first, last = m.groups()
    if first == "":
        suffix = int(last)
        return (max(0, size - suffix), size) if suffix > 0 and size > 0 else UNSATISFIABLE
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return (start, size if last == "" else min(int(last) + 1, size))


def parse_ranges(value, size):
    """The satisfiable ranges in the order asked, UNSATISFIABLE, or None to
    ignore the header (garbage anywhere in it)."""
    m = RANGES_RE.match(value)
    if not m:
        return None
    wanted = []
    for spec in m.group(1).split(","):
        r = parse_spec(spec, size)
        if r is None:
            return None
        if r != UNSATISFIABLE:
            wanted.append(r)
    return wanted or UNSATISFIABLE


class Body:
    """A response body made of segments: ("bytes", data), ("file", start,
    length) of the file served, ("zeros", length)."""

    def __init__(self, f, segments):
        self.f, self.segments, self.index, self.offset = f, list(segments), 0, 0

    @staticmethod
    def seg_len(seg):
        return len(seg[1]) if seg[0] == "bytes" else seg[-1]

    def read(self, n):
        out = b""
        while n > 0 and self.index < len(self.segments):
            seg = self.segments[self.index]
            take = min(n, self.seg_len(seg) - self.offset)
            if seg[0] == "bytes":
                data = seg[1][self.offset:self.offset + take]
            elif seg[0] == "zeros":
                data = bytes(take)
            else:
                self.f.seek(seg[1] + self.offset)
                data = self.f.read(take)
            out += data
            n -= len(data)
            self.offset += len(data)
            if len(data) < take or self.offset >= self.seg_len(seg):
                self.index, self.offset = self.index + 1, 0
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "updater-test-httpd/1"

    def version_string(self):
        return self.server_version

    def setup(self):
        # Small writes (headers, the bytes before a fault) must leave at once.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()  # here, not in the accepting thread
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (OSError, ValueError):
            pass  # the client went away (or a reset fault closed the socket)

    def log_message(self, format, *args):  # noqa: A002 - our own log instead
        pass

    def do_GET(self):
        self.serve(send_body=True)

    def do_HEAD(self):
        self.serve(send_body=False)

    # -- responses ---------------------------------------------------------

    def serve(self, send_body):
        state = self.server.state
        faults = state.faults
        number = state.count_request()
        self.range_header = self.headers.get("Range")
        if getattr(self, "held_back", b""):
            # long-body: the bytes past the last Content-Length come now, once
            # the client has asked again on the connection (sent earlier, a
            # client would find the idle connection readable and drop it).
            self.wfile.write(self.held_back)
            self.held_back = b""
        if faults.status is not None:
            return self.simple(faults.status, send_body)
        if number < faults.status500_first:
            return self.simple(500, send_body)
        if faults.redirect is not None:
            return self.simple(302, send_body, [("Location", faults.redirect + self.path)])
        if faults.redirect_chain:
            hop = re.match(r"^/hop/(\d+)(/.*)$", self.path)
            left, rest = (int(hop.group(1)), hop.group(2)) if hop else (faults.redirect_chain, self.path)
            if left > 0:
                return self.simple(302, send_body, [("Location", f"/hop/{left - 1}{rest}")])
            self.path = rest
        path = self.translate()
        if path is None:
            return self.simple(404, send_body)
        self.serve_file(path, send_body)

    def simple(self, status, send_body, headers=()):
        body = f"{status} {self.responses.get(status, ('',))[0]}\n".encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)
        self.log_request_line(status, len(body) if send_body else 0)

    def translate(self):
        root = self.server.state.root
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        full = os.path.realpath(os.path.join(root, rel))
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return None
        return full

    def wanted_ranges(self, size):
        """The ranges to answer, UNSATISFIABLE, or None for the whole file."""
        faults = self.server.state.faults
        if faults.no_range or not self.range_header:
            return None
        wanted = parse_ranges(self.range_header, size)
        if "," in self.range_header and wanted not in (None, UNSATISFIABLE):
            if faults.no_multirange:
                return None
            if faults.single_range:
                return wanted[:1]
            if faults.coalesce:
                return [(min(a for a, _ in wanted), max(b for _, b in wanted))]
        return wanted

    def fires(self, name, enabled, times):
        return enabled and self.server.state.take(name, times)

    def answer(self, wanted, size):
        """(status, headers, segments) of a 200 or 206 answer, faults applied."""
        faults = self.server.state.faults
        if wanted is None:
            return 200, [("Content-Type", "application/octet-stream")], [("file", 0, size)]
        shift = faults.wrong_range if self.fires("wrong-range", faults.wrong_range, faults.wrong_range_times) else 0
        if len(wanted) == 1:
            (a, b), = wanted
            headers = [("Content-Type", "application/octet-stream"),
                       ("Content-Range", f"bytes {a + shift}-{b - 1 + shift}/{size}")]
            return 206, headers, [("file", a, b - a)]
        bad = self.fires("bad-boundary", faults.bad_boundary, faults.bad_boundary_times)
        segments = []
        for i, (a, b) in enumerate(wanted):
            head = f"--{BOUNDARY[::-1] if bad and i == 1 else BOUNDARY}\r\n"
            head += f"Content-Type: application/octet-stream\r\nContent-Range: bytes {a + shift}-{b - 1 + shift}/{size}\r\n"
            if faults.part_header:
                head += f"X-Padding: {'x' * faults.part_header}\r\n"
            segments += [("bytes", f"\r\n{head}\r\n".encode()), ("file", a, b - a)]
        closing = BOUNDARY[::-1] if bad and len(wanted) == 1 else BOUNDARY
        segments.append(("bytes", f"\r\n--{closing}--\r\n".encode()))
        ctype = "multipart/byteranges" + ("" if faults.no_boundary else f"; boundary={BOUNDARY}")
        return 206, [("Content-Type", ctype)], segments

    def cut_short(self, segments):
        """short-part: the first part loses its last BYTES, nothing follows."""
        faults = self.server.state.faults
        for i, seg in enumerate(segments):
            if seg[0] == "file":
                return segments[:i] + [("file", seg[1], max(0, seg[2] - faults.short_part))]
        return segments

    def serve_file(self, path, send_body):
        faults = self.server.state.faults
        size = os.path.getsize(path)
        wanted = self.wanted_ranges(size)
        if wanted == UNSATISFIABLE:
            return self.simple(416, send_body, [("Content-Range", f"bytes */{size}")])
        status, headers, segments = self.answer(wanted, size)
        short = status == 206 and self.fires("short-part", faults.short_part is not None, faults.short_part_times)
        if short:
            segments = self.cut_short(segments)
        length = sum(Body.seg_len(seg) for seg in segments)
        junk = (faults.oversize or 0) if status == 200 else 0
        self.send_response(status)
        declared = length + junk + (faults.short_length or 0) - (faults.long_body or 0)
        self.send_header("Content-Length", str(max(0, declared)))
        if faults.huge_header:
            self.send_header("X-Padding", "x" * faults.huge_header)
        if not faults.no_range:
            self.send_header("Accept-Ranges", "bytes")
        for name, value in headers:
            self.send_header(name, value)
        if faults.short_length is not None or faults.long_body_close or short:
            self.close_connection = True  # the client must see the body end early
            self.send_header("Connection", "close")
        self.end_headers()
        if not send_body:
            return self.log_request_line(status, 0)
        self.send_body(path, segments + [("zeros", junk)], length, status, junk)

    def pick_fault(self, length):
        """Which of stall/reset fires for this body, and after how many bytes."""
        state = self.server.state
        faults = state.faults
        if faults.reset_after is not None and length > faults.reset_after:
            if state.take("reset", faults.reset_times):
                return "reset", faults.reset_after
        if faults.stall_after is not None and length > faults.stall_after:
            if state.take("stall", faults.stall_times):
                return "stall", faults.stall_after
        if faults.close_after is not None and length > faults.close_after:
            if state.take("close", faults.close_times):
                return "close", faults.close_after
        return None, length

    def send_body(self, path, segments, length, status, junk=0):
        state = self.server.state
        fault, limit = self.pick_fault(length)
        if fault is None:
            limit += junk
        held = 0
        if state.faults.long_body and not state.faults.long_body_close:
            held = min(limit, state.faults.long_body)
            limit -= held
        rate = state.faults.drip
        chunk = max(1, int(rate // 20)) if rate else CHUNK
        sent = 0
        try:
            with open(path, "rb") as f:
                body = Body(f, segments)
                while sent < limit and not state.stop.is_set():
                    data = body.read(min(chunk, limit - sent))
                    if not data:
                        break
                    self.wfile.write(data)
                    sent += len(data)
                    if rate and state.stop.wait(len(data) / rate):
                        break
                if held:
                    self.held_back = body.read(held)
        except OSError:
            # The client hung up (a client may cut a 200 once it has enough).
            self.close_connection = True
            return self.log_request_line(status, sent, "client-closed")
        self.log_request_line(status, sent, fault)
        if fault == "reset":
            self.abort_connection()
        elif fault == "close":
            self.close_connection = True
        elif fault == "stall":
            state.stop.wait()  # hang with the connection open until we stop
            self.close_connection = True

    def abort_connection(self):
        """Close now with SO_LINGER 0: the kernel sends RST, not FIN."""
        self.close_connection = True
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile (a makefile()) holds a reference: the fd closes with the last.
        self.rfile.close()
        self.request.close()

    def log_request_line(self, status, sent, fault=None):
        line = f"{self.command} {self.path} range={self.range_header or '-'} status={status} sent={sent}"
        self.server.state.log(line + (f" fault={fault}" if fault else ""))


class Server(ThreadingHTTPServer):
    daemon_threads = True  # stalled handlers must not keep the process alive
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # TLS alerts, resets: expected
            super().handle_error(request, client_address)

    def shutdown_request(self, request):
        try:
            super().shutdown_request(request)
        except OSError:
            pass  # already closed by a reset fault


def write_port_file(path, port):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)  # readers never see a partial file


def parse_args(argv):
    p = argparse.ArgumentParser(description="HTTP/1.1 file server for the updater's tests")
    p.add_argument("--root", required=True, help="directory to serve")
    p.add_argument("--port-file", required=True, help="where to write the chosen port")
    p.add_argument("--fault", action="append", default=[], help="fault SPEC (repeatable)")
    p.add_argument("--log", help="append one line per request here")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", help="private key for --tls-cert (PEM)")
    args = p.parse_args(argv)
    try:
        args.faults = Faults(args.fault)
    except ValueError as exc:
        p.error(str(exc))
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if not os.path.isdir(args.root):
        p.error(f"--root {args.root}: not a directory")
    return args


def main(argv):
    args = parse_args(argv)
    server = Server(("127.0.0.1", 0), Handler)
    server.state = State(args.root, args.faults, args.log)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.socket.settimeout(1)  # accept() never blocks the loop for good (see below)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    write_port_file(args.port_file, server.server_address[1])
    while not stop.wait(0.2):
        pass
    server.state.stop.set()  # release stalled and dripping requests
    # shutdown() waits for serve_forever's loop, which a client that resets
    # its connection between select() and accept() can leave blocked in
    # accept(): bounded here, the daemon threads die with the process.
    closer = threading.Thread(target=server.shutdown, daemon=True)
    closer.start()
    closer.join(5)
    server.server_close()
    if server.state.log_file:
        server.state.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
