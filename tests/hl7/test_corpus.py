"""Every HL7 capture of the shared corpus decodes to observations (read in place, never copied)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from benchlink.core.model import Result
from benchlink.drivers.hl7_results import observations
from benchlink.protocols.hl7.capture import read_hl7_capture
from benchlink.protocols.hl7.message import Hl7Message, parse_message
from benchlink.protocols.hl7.observations import attachments, read_observations


def _by_code(results: list[Result]) -> dict[str, Result]:
    return {r.instrument_code: r for r in results}


def check_mindray_bc5380(msgs: list[Hl7Message]) -> None:
    (msg,) = msgs
    assert msg.charset == "UNICODE" and msg.version == "2.3.1"
    results = observations(msg)
    codes = _by_code(results)
    assert codes["10000"].test_name == "*LIC#"  # 99MRC local code kept as the code
    assert {o.coding_system for o in read_observations(msg)} == {"99MRC", "LN"}
    assert codes["6690-2"].numeric_value == 9.81 and codes["6690-2"].units == "10*9/L"
    assert codes["718-7"].flags == "L"
    histograms = attachments(msg)
    assert [a.code for a in histograms] == ["15008", "15056", "15116", "15200"]
    assert {a.mime_type for a in histograms} == {"image/bmp"}
    assert "…" in histograms[0].data  # U+2026 placeholder decoded as UTF-8 (UNICODE)
    assert not {a.code for a in histograms} & set(codes)
    assert {r.sample_id for r in results} == {"20071207011"}
    assert len(results) == 60


def check_erba(msgs: list[Hl7Message]) -> None:
    assert len(msgs) == 95
    assert all(m.message_type == "ORU^R01" and m.charset == "UNICODE" for m in msgs)
    first = _by_code(observations(msgs[0]))  # cut short by the logger after OBX-17
    assert first["770-8"].flags == "L~A"  # repeat flags joined by ~
    assert first["6690-2"].flags == "N"  # "~N": empty first repeat dropped
    assert first["6690-2"].sample_id == "25059651"
    codes = _by_code(observations(msgs[1]))
    assert len(codes) == 36 and codes["11001"].test_name == "*LIC#"
    assert codes["786-4"].flags == "L~A" and codes["786-4"].numeric_value == 30.6
    complete = [m for m in msgs if len(observations(m)) >= 36]
    assert len(complete) >= 70  # the rest were cut by the logger (interleaved chunks)


def check_latin1(msgs: list[Hl7Message]) -> None:
    (msg,) = msgs
    results = observations(msg)
    assert len(results) == 18
    names = {r.instrument_code: r.test_name for r in results}
    # SOURCES-hl7.md says "H\xe4moglobin", but the stored bytes are EF BF BD: the umlaut was
    # already replaced by U+FFFD upstream and the file re-saved as UTF-8 under MSH-18 8859/1.
    # The decoder detects that and yields the replacement character, not "Hï¿½moglobin".
    assert names["HGB"] == "H\ufffdmoglobin"
    assert {r.flags for r in results} >= {"LL", "HH"}


def check_dca(msgs: list[Hl7Message]) -> None:
    (result,) = observations(msgs[0])
    assert (result.instrument_code, result.value, result.units) == ("HbA1c", "5.2", "%")
    assert result.instrument == "DCA Vantage^Siemens^S063824"
    assert result.reference_range == "<6.5"


def check_drichem(msgs: list[Hl7Message]) -> None:
    results = observations(msgs[0])
    assert len(results) == 7 and results[0].instrument_code == "GPT-P"
    assert _by_code(results)["GLU-P"].flags == "HH"
    assert {r.sample_id for r in results} == {"3"}  # SPM-2


def check_viollier(msgs: list[Hl7Message]) -> None:
    results = observations(msgs[0])
    codes = _by_code(results)
    assert codes["35022"].test_name == "Albumin"  # padded OBX-3 text stripped
    assert codes["07200"].numeric_value == 61.0  # numeric sent as ST still parses
    assert codes["07200"].patient_name == "Testpatient^Garfield"


def check_medics(msgs: list[Hl7Message]) -> None:
    (result,) = observations(msgs[0])
    assert result.value == "." and result.numeric_value is None and result.test_name == "Cholesterol"


def check_epic(msgs: list[Hl7Message]) -> None:
    obs = read_observations(msgs[0])
    assert (obs[0].code, obs[0].coding_system) == ("21838", "MAYO")
    assert (obs[0].alt_code, obs[0].alt_coding_system) == ("21668-9", "LN")
    assert obs[0].sample_id == "23MAYO-265S0173"


def check_ca_escapes(msgs: list[Hl7Message]) -> None:
    obs = read_observations(msgs[0])
    assert len(obs) == 155
    narrative = next(o for o in obs if o.code == "57724-7")
    assert "MEDICAL CENTER LAB ~2823 FRESNO ST" in narrative.value  # \R\ -> repetition char
    assert "\\.br\\" in narrative.value  # formatting escape kept as sent
    assert "\\R\\" not in narrative.value


FACTS: dict[str, Callable[[list[Hl7Message]], None]] = {
    "mindray-bc5380__spec-example-c33-oru-cbc-manual-diff.hl7": check_mindray_bc5380,
    "erba-elite580__mllp-log-tokenized-oru-r01.log": check_erba,
    "elexis__LabCube_ABXMicrosEmi_OUL_R22_251_latin1.hl7": check_latin1,
    "elexis__LabCube_DCAVantage_OUL_R22_251.hl7": check_dca,
    "elexis__LabCube_DriChemNX700i_OUL_R22_251.hl7": check_drichem,
    "elexis__Viollier_Test01_ORU_R01_22.hl7": check_viollier,
    "elexis__medics_Chol_Punkt_NTE_ORU_R01_26_crlf.hl7": check_medics,
    "trusted-intermediary__Epic_002_ORU_R01_23_dualcoded.hl7": check_epic,
    "trusted-intermediary__CA_002_ORU_R01_251_escapes.hl7": check_ca_escapes,
}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_corpus_file_decodes_to_observations(hl7_corpus: Path, name: str) -> None:
    path = hl7_corpus / name
    if not path.exists():
        pytest.skip(f"{name} is not in the corpus at {hl7_corpus}")
    msgs = [parse_message(m) for m in read_hl7_capture(path.read_bytes())]
    assert msgs and all(observations(m) for m in msgs)
    FACTS[name](msgs)


def test_every_corpus_file_has_facts(hl7_corpus: Path) -> None:
    """A new capture in the corpus must get its own facts here, not ride along untested."""
    present = {p.name for p in hl7_corpus.iterdir() if p.is_file()}
    assert present <= set(FACTS), f"add facts for {sorted(present - set(FACTS))}"
