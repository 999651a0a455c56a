"""Every real capture in the shared corpus reads and decodes, with facts checked per vendor.

The corpus is third-party data read in place (never copied into the repository). Point
``BENCHLINK_CORPUS`` at it; without it the tests skip and say why.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from benchlink.protocols.astm.capture import Capture, read_capture
from benchlink.protocols.astm.errors import NotAstmError
from benchlink.protocols.astm.records import AstmMessage, Delimiters, decode_message, encode_message

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", REPO.parent / "shared" / "corpus"))
FOLDERS = ("astm", "astm-framed")
SKIP_REASON = f"ASTM corpus not found at {CORPUS} (set BENCHLINK_CORPUS to the shared corpus folder)"


def _listing() -> list[str]:
    names: list[str] = []
    for folder in FOLDERS:
        path = CORPUS / folder
        if path.is_dir():
            names.extend(f"{folder}/{p.name}" for p in sorted(path.iterdir()) if p.is_file())
    return names


CAPTURES = _listing()
ENCODINGS = {"utf8": "utf-8", "windows1252": "cp1252"}


def _encoding_for(name: str) -> str:
    for marker, encoding in ENCODINGS.items():
        if marker in name:
            return encoding
    return "latin-1"


def load(name: str) -> tuple[Capture, list[AstmMessage]]:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(SKIP_REASON if not CORPUS.is_dir() else f"{name} missing from the corpus")
    capture = read_capture(path.read_bytes())
    encoding = _encoding_for(name)
    return capture, [decode_message(m, encoding=encoding) for m in capture.messages]


@pytest.mark.skipif(not CAPTURES, reason=SKIP_REASON)
@pytest.mark.parametrize("name", CAPTURES or ["-"])
def test_every_capture_decodes(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    if "nonastm" in name:
        with pytest.raises(NotAstmError, match=r"not ASTM.*vendor adapter"):
            read_capture(data)
        return
    capture, messages = load(name)
    assert capture.messages, "a capture of ASTM traffic yields at least one message"
    for message in messages:
        assert message.records
        # every view of every record can be read without error
        _ = message.header.sender_name, message.header.timestamp, message.queries
        for patient, order, result in message.iter_results():
            _ = patient.view.name, patient.view.birth_date, order.view.sample_id, order.view.tests
            _ = result.view.code, result.view.value, result.view.units, result.view.completed_at
            _ = result.view.abnormal_flags, result.view.reference_range
        # canonical text (CR-separated) re-encodes byte-identical
        canonical = encode_message(message)
        assert encode_message(decode_message(canonical, encoding=message.encoding)) == canonical


@pytest.mark.skipif(not CAPTURES, reason=SKIP_REASON)
def test_corpus_holds_both_folders() -> None:
    assert any(n.startswith("astm/") for n in CAPTURES)
    assert any(n.startswith("astm-framed/") for n in CAPTURES)
    assert sum("nonastm" in n for n in CAPTURES) == 2


def test_genexpert_non_default_delimiters_and_84_results() -> None:
    capture, (msg,) = load("astm-framed/cepheid-genexpert__mtb-rif-84-results.astm")
    assert msg.delimiters == Delimiters("|", "@", "^", "\\")
    assert len(msg.by_type("R")) == 84
    assert capture.checksum_failures == 0
    assert msg.header.sender_components[1:] == ["GeneXpert", "4.8"]
    first = msg.results[0]
    assert first.value == "NOT DETECTED"
    assert first.test_components[6] == "MTB"
    assert msg.patients[0].orders[0].view.sample_id == "PR25A137"


def test_erba_backtick_repeat_delimiter() -> None:
    capture, (msg,) = load("astm-framed/erba-xl1000__wire-capture-backtick-repeat-delim.astm")
    assert msg.delimiters.repeat == "`"
    assert capture.frames == 1 and capture.checksum_failures == 0
    result = msg.results[0]
    assert (result.code, result.value, result.units, result.abnormal_flag) == ("DBILL", "0.3", "mg/dl", "A")
    assert msg.header.version == "E 1394-97"


def test_pentra_28_frames_loinc_and_alarm_comments() -> None:
    capture, (msg,) = load("astm-framed/horiba-pentra-xlr__cbc-diff-alarms.astm")
    assert capture.frames == 28 and capture.checksum_failures == 0
    wbc = msg.patients[0].orders[0].results[0]
    assert (wbc.view.code, wbc.view.loinc, wbc.view.value, wbc.view.status) == ("WBC", "804-5", "8.5", "W")
    assert len(wbc.comments) == 2
    assert msg.patients[0].view.name[:2] == ["Mohale", "Rita"]


def test_sysmex_xn550_padded_sample_id_and_shifted_codes() -> None:
    _, (msg,) = load("astm-framed/sysmex-xn550__cbc-patient.astm")
    assert msg.header.sender_name == "XN-550"
    order = msg.patients[0].orders[0]
    assert order.view.sample_id == "27"
    assert order.view.test_codes[:3] == ["WBC", "RBC", "HGB"]
    assert msg.results[0].code == "WBC"
    assert msg.results[0].value == "8.13"
    assert msg.patients[0].view.birth_date is not None and msg.patients[0].view.birth_date.year == 1987


def test_sysmex_xp100_values_lose_their_padding() -> None:
    _, (msg,) = load("astm-framed/sysmex-xp100__cbc-padded-values.astm")
    assert msg.patients[0].orders[0].view.sample_id == "113"
    assert [r.value for r in msg.results[:3]] == ["5.5", "2.87", "10.1"]


def test_yumizen_h500_wire_capture_etb_frames_join() -> None:
    capture, (msg,) = load("astm-framed/horiba-yumizen-h500__wire-capture-enq-etb-histograms.astm")
    assert capture.frames == 125 and capture.checksum_failures == 0
    assert len(msg.by_type("M")) >= 2
    longest = max((f for m in msg.by_type("M") for f in m.fields), key=len)
    assert len(longest) > 240  # one field joined across several ETB frames
    assert not any(c in longest for c in "\x02\x03\x17\r\n")


def test_mindray_bs240_log_gives_157_messages() -> None:
    capture, messages = load("astm-framed/mindray-bs240__serial-log-tokenized-single-frame-per-sample.log")
    assert capture.kind == "tokenized"
    assert len(messages) == 157
    assert capture.checksum_failures == 27  # the logger mangled non-ASCII bytes to '?'
    first = messages[0]
    assert first.header.sender_name == "Mindry"
    assert first.patients[0].orders[0].view.instrument_specimen_id == "25059239"
    assert first.results[0].code == "P" and first.results[0].value == "2.837141"


def test_snibe_frames_without_number_or_checksum() -> None:
    capture, messages = load("astm-framed/snibe-maglumi__serial-log-no-frameno-no-checksum.log")
    assert len(messages) == capture.frames > 10
    assert any("no checksum" in n for n in capture.notes)
    assert messages[0].results[0].reference_range == "0.75 to 2.1"
    assert messages[0].patients[0].orders[0].view.test_codes == ["TT3 II", "TT4 II", "TSH II"]


def test_beckman_fragmented_log_reassembles() -> None:
    _, messages = load("astm-framed/beckman-access2__serial-log-tokenized-fragmented-reads.log")
    assert len(messages) >= 5
    clean = messages[1]
    assert clean.results[0].code == "HCG5" and clean.results[0].value == "108.66"
    assert clean.patients[0].orders[0].view.sample_id == "25020053"


def test_roche_escaped_hex_transcript() -> None:
    capture, (msg,) = load("astm-framed/roche-amplilink-cobas-taqman__escaped-hex-transcript.txt")
    assert capture.kind == "escaped-hex"
    assert capture.frames == 7 and capture.checksum_failures == 0
    result = msg.results[0]
    assert (result.value, result.units) == ("61", "cp/mL")
    assert result.reference_range == "20^10000000^TiterRanges"
    assert result.completed_at == datetime(2019, 8, 20, 12, 29, 2)


def test_vitros_host_query_and_censored_values() -> None:
    _, (query,) = load("astm-framed/ortho-vitros3600__wire-capture-host-query.astm")
    assert query.queries[0].sample_ids == ["1068687"]
    assert query.queries[0].test_codes == ["ALL"]
    assert query.queries[0].status_code == "O"
    _, (censored,) = load("astm-framed/ortho-vitros3600__wire-capture-results-censored-values.astm")
    assert [r.value for r in censored.results] == ["8.25", "<15", "<2", "<20"]


def test_vitros_m_records_attach_to_the_result_they_follow() -> None:
    capture, (msg,) = load("astm-framed/ortho-vitros3600__wire-capture-results-M-records.astm")
    assert capture.frames == 16 and capture.checksum_failures == 0
    attached = [len(r.manufacturer) for _, _, r in msg.iter_results()]
    assert sum(attached) == len(msg.by_type("M")) > 0
    assert msg.results[0].status == "V"


def test_lis_order_download_with_per_record_frame_numbers() -> None:
    _, (msg,) = load("astm-framed/lis-to-vitros3600__host-order-download-single-frame.astm")
    assert [r.type for r in msg.records] == ["H", "P", "O", "L"]
    assert msg.patients[0].orders[0].view.report_type == "O"


def test_cobas_c311_repeated_tests_and_comment_after_every_result() -> None:
    _, (msg,) = load("astm-framed/roche-cobas-c311__multi-test-order-comments.astm")
    order = msg.patients[0].orders[0]
    assert order.view.test_codes == ["685/", "687/", "712/", "158/", "735/", "717/", "690/"]
    assert all(len(r.comments) == 1 for r in order.results)
    assert [r.view.abnormal_flag for r in order.results] == ["A", "N", "L", "N", "N", "N", "A"]


def test_ortho_escape_sequences_decoded() -> None:
    _, (msg,) = load("astm/ortho-vision__order-escape-sequences-FRSE.astm")
    texts = [o.view.text(5) for o in msg.patients[0].orders]
    assert texts == ["Type | Screen", "Type \\ Screen", "Type ^ Screen", "Type & Screen"]


@pytest.mark.parametrize(
    ("variant", "encoding", "name"),
    [("utf8", "utf-8", "\u0160\u0106\u017d\u0110"), ("windows1252", "cp1252", "\u0160C\u017d\u00d0"),
     ("iso8859-1", "latin-1", "SCZD")],
)
def test_ortho_vision_patient_name_encodings(variant: str, encoding: str, name: str) -> None:
    path = CORPUS / f"astm/ortho-vision__patient-name-{variant}.astm"
    if not path.is_file():
        pytest.skip(SKIP_REASON)
    msg = decode_message(path.read_bytes(), encoding=encoding)
    assert msg.patients[0].view.last_name == name
    assert encode_message(msg) == path.read_bytes().replace(b"\n", b"\r")


def test_cp1252_file_read_as_utf8_does_not_crash() -> None:
    path = CORPUS / "astm/ortho-vision__patient-name-windows1252.astm"
    if not path.is_file():
        pytest.skip(SKIP_REASON)
    msg = decode_message(path.read_bytes(), encoding="utf-8")
    assert "\ufffd" in msg.patients[0].view.last_name
    assert encode_message(msg) == path.read_bytes().replace(b"\n", b"\r")


def test_architect_five_messages_with_result_triplets() -> None:
    _, messages = load("astm/abbott-architect-i1000sr__multi-message-FIP-result-triplets.astm")
    assert len(messages) == 5
    assert [r.test_components[-1] for r in messages[0].results] == ["F", "I", "P"]
    assert messages[0].results[0].code == "580"
    assert messages[0].header.sender_version == "9.45"


def test_euroimmun_many_patients_decimal_comma() -> None:
    _, (msg,) = load("astm/euroimmun-analyzer1__multi-patient-sars-cov2-decimal-comma.astm")
    assert len(msg.patients) == 20
    assert [r.value for r in msg.results[:2]] == [">8", "7,41"]


def test_yumizen_h550_doubled_backslash_header() -> None:
    _, (msg,) = load("astm/horiba-yumizen-h550__control-result-histograms.astm")
    assert msg.delimiters == Delimiters()
    assert msg.header.processing_id == "Q"
    assert len(msg.patients[0].orders[0].manufacturer) >= 1


def test_galileo_multiple_orders_and_reaction_components() -> None:
    _, (msg,) = load("astm/immucor-galileo-echo__bloodbank-results-multi-order.astm")
    assert [len(o.results) for o in msg.patients[0].orders] == [9, 5]
    assert msg.results[2].value_components == ["3+", "3+", "45"]


def test_immucor_query_records() -> None:
    _, (msg,) = load("astm/immucor-rvt__host-query-Q-records.astm")
    assert [q.sample_id for q in msg.queries] == [f"VALI20030{i}" for i in range(1, 6)]
    assert msg.patients == []


def test_biorad_second_patient_block() -> None:
    _, (msg,) = load("astm/biorad-ih1000-ihcom52__bloodtype-partial-order.astm")
    assert len(msg.patients) == 2
    assert msg.patients[0].orders[0].view.report_type == "P"
