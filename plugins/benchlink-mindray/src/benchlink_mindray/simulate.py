"""Simulator profiles: messages shaped like a BS-240 (ASTM and HL7) and a BC-5380 send them."""

from __future__ import annotations

import random

from benchlink.drivers.simulation import GeneratedProfile, stamp, value_in

# (code, name, units, low, high, decimals) as the BS-240 names them.
BS240_TESTS = (
    ("P", "Phosphorus", "mg/dL", 2.5, 4.5, 6),
    ("CA", "Calcium", "mg/dL", 8.6, 10.3, 6),
    ("SGPT", "Alanine Aminotransferase", "U/L", 0.0, 41.0, 6),
    ("TP", "Total Protein", "g/dL", 6.4, 8.3, 6),
    ("ALBII", "Albumin", "g/dL", 3.5, 5.2, 6),
)
BC5380_TESTS = (
    ("6690-2", "WBC", "LN", "10*9/L", 4.0, 10.0, 2),
    ("789-8", "RBC", "LN", "10*12/L", 3.5, 5.0, 2),
    ("718-7", "HGB", "LN", "g/L", 110.0, 150.0, 0),
    ("777-3", "PLT", "LN", "10*9/L", 100.0, 300.0, 0),
    ("10002", "PCT", "99MRC", "mL/L", 1.08, 2.82, 2),
)


def bs240_astm(index: int, rng: random.Random) -> tuple[str, str]:
    barcode = f"25{index:06d}"
    when = stamp(index)
    seq = 400 + index  # the BS-240 keeps counting across messages
    tests = "\\".join(f"{c}^{n}^^" for c, n, *_ in BS240_TESTS) + "\\^A/G^^"
    lines = [
        f"H|\\^&|||Mindray^^|||||||PR|1394-97|{when}",
        f"P|{seq}||||^^||^^|U" + "|" * 26,
        f"O|{seq}|{index % 100}^1^{index % 40 + 1}|{barcode}|{tests}|R|{when}|{when}|||||||{when}|serum"
        + "|" * 10 + "F",
    ]
    r = seq * 5
    values: dict[str, float] = {}
    for code, name, units, low, high, decimals in BS240_TESTS:
        r += 1
        value, flag = value_in(rng, low, high, decimals)
        values[code] = float(value)
        lines.append(f"R|{r}|{code}^{name}^^F|{value}^^^^|{units}|^|{flag}||F|{value}^^^^|0|{when}||Mindray^")
    ratio = values["ALBII"] / max(0.1, values["TP"] - values["ALBII"])
    lines.append(f"R|{r + 1}|^A/G^^F|{ratio:.6f}^^^^||^|N||F|{ratio:.6f}^^^^||||Mindray^")
    lines.append(f"L|{seq}|N")
    return barcode, "\r".join(lines) + "\r"


def bs240_hl7(index: int, rng: random.Random) -> tuple[str, str]:
    barcode = f"25{index:06d}"
    when = stamp(index)
    lines = [
        f"MSH|^~\\&|Mindray|BS-240|||{when}||ORU^R01|{index}|P|2.3.1||||0||ASCII|||",
        f"PID|{index}||||||||||||||||||||||||||||",
        f"OBR|{index}|{barcode}|{index % 40 + 1}|Mindray^BS-240|N|{when}|{when}|{when}||1^1||||{when}|serum",
    ]
    for n, (_code, name, units, low, high, decimals) in enumerate(BS240_TESTS, start=1):
        value, flag = value_in(rng, low, high, decimals)
        lines.append(f"OBX|{n}|NM|{n}|{name}|{value}|{units}|{low:g}-{high:g}|{flag}|||F||{value}|{when}||")
    return barcode, "\r".join(lines) + "\r"


def bc5380_hl7(index: int, rng: random.Random) -> tuple[str, str]:
    sample = f"2026{index:07d}"
    when = stamp(index)
    lines = [
        f"MSH|^~\\&|BC-5380|Mindray|||{when}||ORU^R01|{index}|P|2.3.1||||||UNICODE",
        "PID|1||^^^^MR",
        f"OBR|1||{sample}|00001^Automated Count^99MRC||{when}|{when}|||||||{when}||||||||||HM||||||||Mindray",
        "OBX|1|IS|08001^Take Mode^99MRC||O||||||F",
    ]
    for n, (code, name, system, units, low, high, decimals) in enumerate(BC5380_TESTS, start=2):
        value, flag = value_in(rng, low, high, decimals)
        lines.append(f"OBX|{n}|NM|{code}^{name}^{system}||{value}|{units}|{low:g}-{high:g}|{flag}|||F")
    lines.append(f"OBX|{len(BC5380_TESTS) + 2}|ED|15008^WBC Histogram. BMP^99MRC||^Image^BMP^Base64^Qk0=||||||F")
    return sample, "\r".join(lines) + "\r"


PROFILES = (
    GeneratedProfile("mindray-bs240", "astm", bs240_astm, tolerances=("oversize_frames",), max_text_per_frame=8000,
                     description="Mindray BS-240 over ASTM: one big frame per message"),
    GeneratedProfile("mindray-bs240-hl7", "hl7", bs240_hl7, description="Mindray BS-240 over HL7"),
    GeneratedProfile("mindray-bc5380", "hl7", bc5380_hl7, encoding="utf-8",
                     description="Mindray BC-5380 CBC over HL7 with a histogram attachment"),
)
