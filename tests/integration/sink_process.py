"""An SMTP sink in a process of its own, for tests that kill the processes sending to it.

    python -m tests.integration.sink_process RECEIVED_FILE [--delay SECONDS]

aiosmtpd on 127.0.0.1 and a port the system picks; once it listens, ``ready <port>`` is printed on
stdout. Every message whose data reached it is written at once as one line of ``RECEIVED_FILE``
(its Message-ID), before the answer: that is what may have arrived in an inbox, even if the sender
dies before hearing the reply. The answer (250) comes ``--delay`` seconds later, so that a sender
always has a message on the wire. SIGTERM stops it.

Living in another process, it keeps receiving while the test process polls the database and
sends signals, and it outlives the senders a test kills.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import IO, Any

from aiosmtpd.smtp import SMTP

#: The Message-ID written for a message that has none (the test then finds it unknown).
NO_ID = "<sans-message-id>"


class RecordingHandler:
    """Writes each message's Message-ID as it arrives, then answers after ``delay``."""

    def __init__(self, out: IO[str], delay: float) -> None:
        self.out = out
        self.delay = delay
        self.parser = BytesHeaderParser(policy=default)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = self.parser.parsebytes(envelope.original_content)
        self.out.write(f"{str(headers.get('Message-ID', NO_ID)).strip()}\n")
        self.out.flush()  # readable by the test at once: the sink itself is never killed
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted"


async def serve(received: Path, delay: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    with received.open("a", encoding="utf-8") as out:
        handler = RecordingHandler(out, delay)
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink.test"), host="127.0.0.1", port=0
        )
        port = server.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
        await stop.wait()
        server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMTP sink recording Message-IDs.")
    parser.add_argument("received", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.received, args.delay))


if __name__ == "__main__":
    main(sys.argv[1:])
