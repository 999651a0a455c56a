"""Roche cobas c311 and c111 over ASTM (cobas host interface manuals, ASTM section).

* Test ids are ``^^^ACN/dilution``: the application code number, a slash, and an optional
  pre-dilution; ``^^^685/`` is application 685 undiluted. The code is the ACN alone.
* c311: O.3 holds the 22-character, space-padded sample id among its components
  (``11625^CL-PL-24-0370         ^1^^004``); the padded component is the sample id, the
  others are sequence and carrier positions. Its single frame can exceed 240 characters.
* c111: O.3 is empty and the sample id is O.4 component 1; every record ends its own
  intermediate frame; ``M`` records carry raw curves (not results); the operator is ``$SYS$``.
* Flags follow R.7 (``A``, ``L``, ``H``, ``N``); a ``C`` comment follows every result.
"""

from __future__ import annotations

from benchlink.core.driver import DriverInfo
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.protocols.astm.records import OrderView, ResultView

#: Width of the cobas sample id field; a component this long (padded) is the sample id.
SAMPLE_ID_WIDTH = 22


class CobasDriver(GenericAstmDriver):
    """Shared by the c311 and c111: the test-id and sample-id rules are the same family."""

    def sample_id(self, order: OrderView) -> str:
        raw = order.record.components(3, order.delimiters)
        for comp in raw:
            if len(comp) >= SAMPLE_ID_WIDTH and comp.strip():
                return comp.strip()
        return order.sample_id

    def test_code(self, result: ResultView) -> tuple[str, str]:
        code = result.code
        acn, _, _dilution = code.partition("/")
        return (acn.strip() or code), ""

    def order_test(self, code: str) -> list[str]:
        return ["", "", "", f"{code}/"]


class CobasC311Driver(CobasDriver):
    info = DriverInfo(
        name="roche-c311",
        protocol="astm",
        description="Roche cobas c311 chemistry over ASTM",
        vendor="Roche",
        models=("cobas c311",),
        tolerances=("oversize_frames",),
        transport={"kind": "serial", "baudrate": 9600},
        encoding="latin-1",
        sender_patterns=(r"^c311(\^|$)",),
        orders=True,
    )


class CobasC111Driver(CobasDriver):
    info = DriverInfo(
        name="roche-c111",
        protocol="astm",
        description="Roche cobas c111 chemistry over ASTM",
        vendor="Roche",
        models=("cobas c111",),
        tolerances=("cr_only_line_ends",),
        transport={"kind": "serial", "baudrate": 9600},
        encoding="latin-1",
        sender_patterns=(r"(^|\^)c111(\^|$)",),
        orders=True,
    )
