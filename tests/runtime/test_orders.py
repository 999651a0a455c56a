"""Host queries and order downloads over real TCP: the analyzer asks, the host answers from the
worklist (or says "no information"), and each order's state follows it to 'resulted'."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchlink.protocols.astm import link as astm_link
from benchlink.protocols.astm.link import AstmLink, Role
from benchlink.protocols.astm.records import decode_message
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.transports.base import Channel
from benchlink.transports.tcp import open_tcp_channel

QUERY = b"H|\\^&|||ANALYZER-Q\rQ|1|^S-100\\^S-404||ALL||||||||O\rL|1|N\r"


def result_message(sample: str) -> bytes:
    return (f"H|\\^&|||ANALYZER-Q\rP|1\rO|1|{sample}||^^^GLU|R\rR|1|^^^GLU|5.2|mmol/L||N||F\rL|1|N\r").encode()


async def converse(channel: Channel, link: AstmLink, outgoing: list[bytes], expect_incoming: int,
                   timeout: float = 20.0) -> list[bytes]:
    """Drive the analyzer end: send our messages, accept whatever the host sends."""
    loop = asyncio.get_running_loop()
    received: list[bytes] = []
    for text in outgoing:
        link.send_message(text, loop.time())
    sent = 0
    deadline = loop.time() + timeout
    while sent < len(outgoing) or len(received) < expect_incoming:
        assert loop.time() < deadline, f"conversation stalled: sent {sent}, received {len(received)}"
        out = link.data_to_send()
        if out:
            channel.write(out)
            await channel.drain()
        wait = link.next_deadline()
        try:
            data = await asyncio.wait_for(channel.read(), max(0.01, (wait or loop.time() + 0.2) - loop.time()))
        except TimeoutError:
            events = link.handle_timer(loop.time())
        else:
            assert data, "host closed the connection"
            events = link.receive_data(data, loop.time())
        for event in events:
            if isinstance(event, astm_link.MessageReceived):
                received.append(event.text)
                link.accept_message(loop.time())
            elif isinstance(event, astm_link.MessageSent):
                sent += 1
            elif isinstance(event, astm_link.SendFailed):
                raise AssertionError(f"send failed: {event.reason}")
    out = link.data_to_send()
    if out:
        channel.write(out)
        await channel.drain()
    return received


def make(tmp_path: Path, download: bool) -> tuple[Settings, object]:
    device = DeviceConfig(name="chem-1", download_orders=download,
                          transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(device,))
    return settings, open_store(settings)


def test_query_is_answered_from_the_worklist_and_states_follow(tmp_path: Path) -> None:
    settings, store = make(tmp_path, download=False)

    async def scenario() -> tuple[list[bytes], list[str], list[str]]:
        engine = Engine(settings, store)
        engine.worklist.add("S-100", ["GLU", "NA"], priority="S")
        await engine.start()
        try:
            channel = await open_tcp_channel("127.0.0.1", engine.runners["chem-1"].port)
            link = AstmLink(Role.INSTRUMENT)
            answers = await converse(channel, link, [QUERY], expect_incoming=1)
            await asyncio.sleep(0.2)
            after_answer = [o.state for o in engine.worklist.list()]
            await converse(channel, link, [result_message("S-100")], expect_incoming=0)
            await asyncio.sleep(0.3)
            await channel.close()
            return answers, after_answer, [o.state for o in engine.worklist.list()]
        finally:
            await engine.stop()

    answers, after_answer, final = asyncio.run(scenario())
    message = decode_message(answers[0])
    orders = [block for p in message.patients for block in p.orders]
    by_sample = {o.view.sample_id: o.view for o in orders}
    assert set(by_sample) == {"S-100", "S-404"}
    assert by_sample["S-100"].test_codes == ["GLU", "NA"] and by_sample["S-100"].priority == "S"
    assert by_sample["S-404"].report_type == "Y", "unknown sample must get LIS02-A2 'no information'"
    assert after_answer == ["acknowledged", "acknowledged"]
    assert sorted(final) == ["acknowledged", "resulted"]  # NA still open, GLU resulted


def test_pending_orders_are_downloaded_when_idle(tmp_path: Path) -> None:
    settings, store = make(tmp_path, download=True)

    async def scenario() -> tuple[list[bytes], list[str]]:
        engine = Engine(settings, store)
        engine.worklist.add("S-777", ["CREA"])
        await engine.start()
        try:
            channel = await open_tcp_channel("127.0.0.1", engine.runners["chem-1"].port)
            received = await converse(channel, AstmLink(Role.INSTRUMENT), [], expect_incoming=1)
            await asyncio.sleep(0.2)
            await channel.close()
            return received, [o.state for o in engine.worklist.list()]
        finally:
            await engine.stop()

    received, states = asyncio.run(scenario())
    (order,) = [b for p in decode_message(received[0]).patients for b in p.orders]
    assert order.view.sample_id == "S-777" and order.view.test_codes == ["CREA"]
    assert states == ["acknowledged"]


def test_contention_the_analyzer_wins_and_its_results_are_stored(tmp_path: Path) -> None:
    """The host bids to download orders at the moment the analyzer bids to send results:
    LIS01-A2 gives the instrument the line; the host yields and its orders stay queued."""
    from benchlink.runtime.simulator import build_message, send_messages
    from benchlink.storage.store import ResultFilter

    settings, store = make(tmp_path, download=True)

    async def scenario() -> tuple[list[str], list[object], list[str]]:
        engine = Engine(settings, store)
        engine.worklist.add("S-900", ["K"])
        await engine.start()
        try:
            channel = await open_tcp_channel("127.0.0.1", engine.runners["chem-1"].port)
            report = await send_messages(channel, [build_message(1, prefix="C", seed=3)], contend=True)
            await channel.close()
            for _ in range(60):  # the host notices the closed line, then returns the order to pending
                if [o.state for o in engine.worklist.list()] == ["pending"]:
                    break
                await asyncio.sleep(0.05)
            return report.acknowledged, report.events, [o.state for o in engine.worklist.list()]
        finally:
            await engine.stop()

    acknowledged, events, states = asyncio.run(scenario())
    assert acknowledged == ["C000001"]
    assert any(isinstance(e, astm_link.ContentionWon) for e in events), "no contention happened"
    assert store.results_page(ResultFilter(sample_id="C000001"), after=None, limit=10)
    assert states == ["pending"], "an order the host could not deliver must go back to pending"


def test_simulator_query_gets_the_orders(tmp_path: Path) -> None:
    from benchlink.runtime.simulator import query_message, send_messages

    settings, store = make(tmp_path, download=False)

    async def scenario() -> list[bytes]:
        engine = Engine(settings, store)
        engine.worklist.add("Q-1", ["ALT", "AST"])
        await engine.start()
        try:
            channel = await open_tcp_channel("127.0.0.1", engine.runners["chem-1"].port)
            report = await send_messages(channel, [("q", query_message(["Q-1"]))], wait_for_answers=1)
            await channel.close()
            return report.received
        finally:
            await engine.stop()

    (answer,) = asyncio.run(scenario())
    (order,) = [b for p in decode_message(answer).patients for b in p.orders]
    assert order.view.sample_id == "Q-1" and order.view.test_codes == ["ALT", "AST"]
