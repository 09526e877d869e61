"""The embedded broker hands consumers whole messages only, however busy its writers are."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from kombu import Connection

from config.embedded_broker import PARTIAL_SUFFIX

MESSAGES_PER_WRITER = 150
WRITERS = 4


def connection(folder: Path) -> Connection:
    return Connection(
        "filesystem://",
        transport="config.embedded_broker:Transport",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.001,
        },
    )


def test_a_consumer_polling_while_threads_write_gets_every_message_whole(tmp_path: Path) -> None:
    body = {"text": "x" * 20_000}  # large enough that writing it takes a while
    received: list[Any] = []
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        with connection(tmp_path) as conn:
            queue = conn.SimpleQueue("guard")
            for index in range(MESSAGES_PER_WRITER):
                queue.put({**body, "writer": writer, "index": index})
            queue.close()

    def consume() -> None:
        try:
            with connection(tmp_path) as conn:
                queue = conn.SimpleQueue("guard")
                while len(received) < WRITERS * MESSAGES_PER_WRITER:
                    message = queue.get(timeout=60)
                    received.append(message.payload)
                    message.ack()
                queue.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    consumer = threading.Thread(target=consume)
    consumer.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in [*writers, consumer]:
        thread.join()

    assert failures == []
    assert sorted((m["writer"], m["index"]) for m in received) == [
        (w, i) for w in range(WRITERS) for i in range(MESSAGES_PER_WRITER)
    ]
    assert all(m["text"] == body["text"] for m in received)
    assert not list(tmp_path.glob("*" + PARTIAL_SUFFIX))


def test_a_partly_written_message_is_not_taken(tmp_path: Path) -> None:
    # kombu keeps declared exchanges per process, so each test uses queues of its own.
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("partial")
        (tmp_path / f"1_writing.partial.msg{PARTIAL_SUFFIX}").write_bytes(b'{"body": ')
        queue.put({"whole": True})
        assert queue.get(timeout=5).payload == {"whole": True}
        queue.close()
