"""The embedded broker hands consumers whole messages only: a message is written under a name no
consumer takes, then renamed into place (config/embedded_broker.py)."""

from __future__ import annotations

from pathlib import Path

from kombu import Connection, Consumer
from kombu.message import Message

from config.embedded_broker import PARTIAL_SUFFIX


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


def test_a_partly_written_message_is_not_taken(tmp_path: Path) -> None:
    # kombu keeps declared exchanges per process, so each test uses queues of its own.
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("partial")
        (tmp_path / f"1_writing.partial.msg{PARTIAL_SUFFIX}").write_bytes(b'{"body": ')
        queue.put({"whole": True})
        assert queue.get(timeout=5).payload == {"whole": True}
        queue.close()


def test_messages_arrive_whole_and_in_order_with_no_partial_file_left(tmp_path: Path) -> None:
    body = "x" * 200_000
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("whole")
        for index in range(20):
            queue.put({"index": index, "text": body})
        received = [queue.get(timeout=5) for _ in range(20)]
        for message in received:
            message.ack()
        queue.close()
    assert [m.payload["index"] for m in received] == list(range(20))
    assert all(m.payload["text"] == body for m in received)
    assert not list(tmp_path.glob("*" + PARTIAL_SUFFIX))


def test_a_consumer_empties_its_first_queue_before_it_takes_from_the_next(tmp_path: Path) -> None:
    # As the guard worker's `-Q guard,guard-bulk`: kombu's own virtual transports take them in turn.
    with connection(tmp_path) as conn:
        waited, bulk = conn.SimpleQueue("waited"), conn.SimpleQueue("bulk")
        for index in range(4):
            bulk.put({"queue": "bulk", "index": index})
        for index in range(3):
            waited.put({"queue": "waited", "index": index})
        taken: list[str] = []

        def take(body: dict[str, object], message: Message) -> None:
            taken.append(str(body["queue"]))
            message.ack()

        with Consumer(conn, queues=[waited.queue, bulk.queue], callbacks=[take], accept=["json"]):
            while len(taken) < 7:
                conn.drain_events(timeout=5)
        waited.close()
        bulk.close()
    assert taken == ["waited"] * 3 + ["bulk"] * 4
