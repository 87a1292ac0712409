#!/usr/bin/python3
"""Small network probes for the in-VM tests (tests/vm/tunnels.sh,
tests/vm/autocork.sh). Python's standard library only: the VM has no
tcpdump, nc or nstat. Each subcommand prints one line per result.

  serve --ready FILE --log FILE [--echo ADDR/PORT]... [--sink ADDR/PORT]... [--tcp-sink ADDR/PORT]...
      --echo: UDP and TCP on ADDR/PORT, each datagram or connection's data
      sent back; --sink: UDP, nothing sent back; --tcp-sink: TCP, read and
      thrown away (the autocorking receiver). Logs one line per datagram or
      connection (`udp ADDR/PORT from SRC len N`, `tcp ADDR/PORT from SRC
      len N`) to --log, flushed at once. Touches --ready once every socket is
      bound. Runs until killed.
  client [--udp-only] [--timeout S] [udp:]ADDR/PORT...
      Per destination, UDP then TCP (UDP only with --udp-only or for a
      destination written udp:ADDR/PORT): prints `udp DEST src SRC RESULT` and
      `tcp DEST src SRC RESULT`, RESULT one of `echoed` (the payload came
      back), `sent` (UDP sent, nothing came back), `EPERM` (or another errno
      name), `no-answer` (TCP connect still pending at the timeout),
      `connected` (TCP connected, no echo).
  capture IFACE --ready FILE --stop FILE --out FILE
      Counts every frame on IFACE (AF_PACKET, both directions) until FILE
      --stop exists, then writes a summary line to --out:
      `frames N esp N nd N other N marker N` and one `other: ...` line per
      kind of frame that is neither ESP nor ICMPv6 ND/MLD. `marker` counts
      frames that carry the client's payload in clear.
  cork-send ADDR/PORT SECONDS SIZE
      TCP, TCP_NODELAY, SIZE-byte writes for SECONDS; prints `writes N bytes N`.
"""

import errno
import os
import selectors
import socket
import struct
import sys
import time

MARKER = b"polc-vm-cleartext-marker"


def parse_dest(text):
    addr, _, port = text.rpartition("/")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return fam, addr, int(port)


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e)


def serve(args):
    ready = log_path = None
    echo, sink, tcp_sink = [], [], []
    it = iter(args)
    for a in it:
        if a == "--ready":
            ready = next(it)
        elif a == "--log":
            log_path = next(it)
        elif a == "--echo":
            echo.append(next(it))
        elif a == "--sink":
            sink.append(next(it))
        elif a == "--tcp-sink":
            tcp_sink.append(next(it))
        else:
            sys.exit(f"serve: unknown argument {a}")
    log = open(log_path, "a", buffering=1)
    sel = selectors.DefaultSelector()
    for spec in echo + sink:
        fam, addr, port = parse_dest(spec)
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((addr, port))
        sel.register(s, selectors.EVENT_READ, ("udp", spec, spec in echo))
    for spec in echo + tcp_sink:
        fam, addr, port = parse_dest(spec)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", spec, spec in echo))
    open(ready, "w").close()
    conns = {}
    while True:
        for key, _ in sel.select():
            kind, spec, do_echo = key.data
            s = key.fileobj
            if kind == "udp":
                data, src = s.recvfrom(65536)
                log.write(f"udp {spec} from {src[0]} len {len(data)}\n")
                if do_echo:
                    s.sendto(data, src)
            elif kind == "listen":
                c, src = s.accept()
                c.setblocking(False)
                conns[c] = [spec, src[0], 0, do_echo]
                sel.register(c, selectors.EVENT_READ, ("conn", spec, do_echo))
            else:
                st = conns[s]
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if data:
                    st[2] += len(data)
                    if st[3]:
                        try:
                            s.sendall(data)
                        except OSError:
                            pass
                        log.write(f"tcp {st[0]} from {st[1]} len {len(data)}\n")
                    continue
                if not st[3]:
                    log.write(f"tcp {st[0]} from {st[1]} len {st[2]}\n")
                sel.unregister(s)
                s.close()
                del conns[s]


def client(args):
    udp_only = False
    timeout = 1.5
    dests = []
    it = iter(args)
    for a in it:
        if a == "--udp-only":
            udp_only = True
        elif a == "--timeout":
            timeout = float(next(it))
        else:
            dests.append(a)
    for d in dests:
        only_udp = udp_only or d.startswith("udp:")
        d = d.removeprefix("udp:")
        fam, addr, port = parse_dest(d)
        # UDP: connect (picks the source address), send, wait for the echo.
        s = socket.socket(fam, socket.SOCK_DGRAM)
        src = "?"
        try:
            s.connect((addr, port))
            src = s.getsockname()[0]
            s.send(MARKER)
            s.settimeout(timeout)
            try:
                res = "echoed" if s.recv(65536) == MARKER else "garbled"
            except socket.timeout:
                res = "sent"
        except OSError as e:
            res = errname(e)
        s.close()
        print(f"udp {d} src {src} {res}", flush=True)
        if only_udp:
            continue
        # TCP: non-blocking connect; a dropped SYN leaves it pending.
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        src = "?"
        try:
            rc = s.connect_ex((addr, port))
            src = s.getsockname()[0]
            if rc not in (0, errno.EINPROGRESS):
                raise OSError(rc, os.strerror(rc))
            sel = selectors.DefaultSelector()
            sel.register(s, selectors.EVENT_WRITE)
            if not sel.select(timeout):
                res = "no-answer"
            else:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                s.setblocking(True)
                s.settimeout(timeout)
                s.sendall(MARKER)
                got = b""
                try:
                    while len(got) < len(MARKER):
                        b = s.recv(65536)
                        if not b:
                            break
                        got += b
                except socket.timeout:
                    pass
                res = "echoed" if got == MARKER else "connected"
        except OSError as e:
            res = errname(e)
        s.close()
        print(f"tcp {d} src {src} {res}", flush=True)


ND_MLD = {130, 131, 132, 133, 134, 135, 136, 143}


def capture(args):
    iface = args[0]
    opts = dict(zip(args[1::2], args[2::2]))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    s.settimeout(0.1)
    open(opts["--ready"], "w").close()
    n = esp = nd = marker = 0
    other = {}
    stop = opts["--stop"]
    while True:
        try:
            frame = s.recv(65536)
        except socket.timeout:
            if os.path.exists(stop):
                break
            continue
        n += 1
        if MARKER in frame:
            marker += 1
        etype = struct.unpack("!H", frame[12:14])[0]
        if etype == 0x86DD:
            nh = frame[20]
            src = socket.inet_ntop(socket.AF_INET6, frame[22:38])
            dst = socket.inet_ntop(socket.AF_INET6, frame[38:54])
            if nh == 50:
                esp += 1
                continue
            off = 54
            if nh == 0 and len(frame) > off + 1:
                # Hop-by-hop options (MLD reports carry a router alert).
                nh, off = frame[off], off + (frame[off + 1] + 1) * 8
            if nh == 58 and len(frame) > off and frame[off] in ND_MLD:
                nd += 1
                continue
            kind = f"ipv6 {src} > {dst} next-header {nh}"
        elif etype == 0x0800:
            proto = frame[23]
            src = socket.inet_ntop(socket.AF_INET, frame[26:30])
            dst = socket.inet_ntop(socket.AF_INET, frame[30:34])
            kind = f"ipv4 {src} > {dst} proto {proto}"
        else:
            kind = f"ethertype 0x{etype:04x}"
        other[kind] = other.get(kind, 0) + 1
    with open(opts["--out"], "w") as f:
        f.write(f"frames {n} esp {esp} nd {nd} other {sum(other.values())} marker {marker}\n")
        for k, v in sorted(other.items()):
            f.write(f"other: {k} x{v}\n")


def cork_send(args):
    fam, addr, port = parse_dest(args[0])
    secs, size = float(args[1]), int(args[2])
    s = socket.create_connection((addr, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b"x" * size
    n = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        s.sendall(buf)
        n += 1
    s.close()
    print(f"writes {n} bytes {n * size}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"serve": serve, "client": client, "capture": capture, "cork-send": cork_send}.get(
        cmd, lambda _: sys.exit(f"unknown subcommand {cmd}")
    )(args)


if __name__ == "__main__":
    main()
