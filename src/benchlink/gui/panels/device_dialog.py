"""Add or edit one device: driver, transport, tolerances, with the problems shown beside each field.

All checking lives in `gui.device_config.validate_device`; the dialog re-runs it on every edit and
only enables Save when it passes. Serial ports come from pyserial, TLS files from a file picker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from benchlink.gui.device_config import (
    BAUDRATES,
    BYTESIZES,
    PARITIES,
    STOPBITS,
    TOLERANCE_NAMES,
    DeviceForm,
    form_from_config,
    validate_device,
)
from benchlink.runtime.settings import TRANSPORT_KINDS, DeviceConfig

KIND_LABELS = {"tcp-server": "TCP — analyzer connects to us", "tcp-client": "TCP — we connect to the analyzer",
               "serial": "Serial (RS-232)"}
TOLERANCE_HELP = {
    "lowercase_checksum": "Checksum in lower-case hex",
    "missing_checksum": "Frames without checksum",
    "missing_frame_number": "Frames without frame number",
    "cr_only_line_ends": "Frames end with CR or LF only",
    "oversize_frames": "Frames longer than 240 bytes",
    "enq_eot_keepalive": "ENQ+EOT keep-alive",
}


def _error_label(parent: QWidget, key: str) -> QLabel:
    label = QLabel("", parent)
    label.setObjectName(f"error_{key}")
    label.setStyleSheet("color: #d0342c;")
    label.setWordWrap(True)
    label.hide()
    return label


class DeviceDialog(QDialog):
    def __init__(
        self,
        *,
        drivers: Sequence[str],
        taken_names: Sequence[str],
        config: DeviceConfig | None = None,
        others: Sequence[DeviceConfig] = (),
        list_ports: Callable[[], list[str]] | None = None,
        detect: Callable[[bytes], tuple[str, str] | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("deviceDialog")
        self.setWindowTitle("Edit device" if config is not None else "Add device")
        self.base = config
        self.drivers = sorted(drivers)
        self.taken = [n for n in taken_names if config is None or n != config.name]
        self.others = [c for c in others if config is None or c.name != config.name]
        self._list_ports = list_ports
        self.result_config: DeviceConfig | None = None
        self.errors: dict[str, str] = {}
        self.error_labels: dict[str, QLabel] = {}

        self.name = QLineEdit(self)
        self.name.setObjectName("deviceName")
        self.name.setAccessibleName("Device name")
        self.driver = QComboBox(self)
        self.driver.setObjectName("deviceDriver")
        self.driver.setAccessibleName("Driver")
        self.driver.addItems(self.drivers)
        self.enabled = QCheckBox("Connect when Benchlink starts", self)
        self.enabled.setAccessibleName("Device enabled")
        self.kind = QComboBox(self)
        self.kind.setObjectName("deviceKind")
        self.kind.setAccessibleName("Connection type")
        for kind in TRANSPORT_KINDS:
            self.kind.addItem(KIND_LABELS.get(kind, kind), kind)

        general = QFormLayout()
        general.addRow("&Name", self._with_error(self.name, "name"))
        general.addRow("&Driver", self._with_error(self.driver, "driver"))
        self._detect = detect
        self.detect_button = QPushButton("Detect from a capture…", self)
        self.detect_button.setAccessibleName("Detect the driver from a capture file")
        self.detect_button.setToolTip("Pick a file the analyzer sent (a capture or serial log); Benchlink reads its "
                                      "header and offers the matching driver")
        self.detect_button.setEnabled(detect is not None)
        self.detect_button.clicked.connect(self._pick_capture)
        self.detect_note = QLabel("", self)
        self.detect_note.setObjectName("detectNote")
        self.detect_note.setWordWrap(True)
        general.addRow("", self.detect_button)
        general.addRow("", self.detect_note)
        general.addRow("", self.enabled)
        general.addRow("&Connection", self._with_error(self.kind, "kind"))

        # -- TCP page
        tcp = QWidget(self)
        self.host = QLineEdit(tcp)
        self.host.setObjectName("deviceHost")
        self.host.setAccessibleName("Host")
        self.port = QLineEdit(tcp)
        self.port.setObjectName("devicePort")
        self.port.setAccessibleName("TCP port")
        self.tls_cert = QLineEdit(tcp)
        self.tls_key = QLineEdit(tcp)
        self.tls_ca = QLineEdit(tcp)
        self.tls_verify = QCheckBox("Verify the peer's certificate", tcp)
        self.tls_verify.setAccessibleName("Verify TLS peer")
        tcp_form = QFormLayout(tcp)
        tcp_form.addRow("&Host", self._with_error(self.host, "host"))
        tcp_form.addRow("&Port", self._with_error(self.port, "port"))
        for key, edit, label, title in (("tls_cert", self.tls_cert, "TLS &certificate", "certificate"),
                                         ("tls_key", self.tls_key, "TLS private &key", "private key"),
                                         ("tls_ca", self.tls_ca, "TLS CA bundle", "CA bundle")):
            edit.setObjectName(f"device_{key}")
            edit.setAccessibleName(label.replace("&", ""))
            edit.setPlaceholderText("none (plain TCP)")
            tcp_form.addRow(label, self._with_error(self._file_row(edit, title), key))
        tcp_form.addRow("", self.tls_verify)

        # -- serial page
        serial = QWidget(self)
        self.serial_device = QComboBox(serial)
        self.serial_device.setObjectName("deviceSerialPort")
        self.serial_device.setAccessibleName("Serial port")
        self.serial_device.setEditable(True)
        self.rescan = QPushButton("Rescan", serial)
        self.rescan.setAccessibleName("Rescan serial ports")
        self.rescan.clicked.connect(self.scan_ports)
        port_row = QHBoxLayout()
        port_row.setContentsMargins(0, 0, 0, 0)
        port_row.addWidget(self.serial_device, 1)
        port_row.addWidget(self.rescan)
        port_box = QWidget(serial)
        port_box.setLayout(port_row)
        self.baudrate = QComboBox(serial)
        self.baudrate.setEditable(True)
        self.baudrate.setAccessibleName("Baud rate")
        self.baudrate.addItems([str(b) for b in BAUDRATES])
        self.bytesize = QComboBox(serial)
        self.bytesize.setAccessibleName("Data bits")
        self.bytesize.addItems([str(b) for b in BYTESIZES])
        self.parity = QComboBox(serial)
        self.parity.setAccessibleName("Parity")
        self.parity.addItems(list(PARITIES))
        self.stopbits = QComboBox(serial)
        self.stopbits.setAccessibleName("Stop bits")
        self.stopbits.addItems([f"{s:g}" for s in STOPBITS])
        self.rtscts = QCheckBox("RTS/CTS", serial)
        self.xonxoff = QCheckBox("XON/XOFF", serial)
        serial_form = QFormLayout(serial)
        serial_form.addRow("&Port", self._with_error(port_box, "serial_device"))
        serial_form.addRow("&Baud rate", self._with_error(self.baudrate, "baudrate"))
        line = QHBoxLayout()
        for label, widget in (("Data bits", self.bytesize), ("Parity", self.parity), ("Stop bits", self.stopbits)):
            line.addWidget(QLabel(label, serial))
            line.addWidget(widget)
        serial_form.addRow("Framing", line)
        flow = QHBoxLayout()
        flow.addWidget(self.rtscts)
        flow.addWidget(self.xonxoff)
        flow.addStretch(1)
        serial_form.addRow("Flow control", flow)
        for key in ("bytesize", "parity", "stopbits"):
            serial_form.addRow("", self._error(key))

        self.transport_pages = QStackedWidget(self)
        self.transport_pages.addWidget(tcp)
        self.transport_pages.addWidget(serial)
        transport_box = QGroupBox("Transport", self)
        QVBoxLayout(transport_box).addWidget(self.transport_pages)

        # -- link tolerances and timers
        link_box = QGroupBox("Link tolerances (ASTM) — only what this analyzer needs", self)
        grid = QGridLayout(link_box)
        self.tolerances: dict[str, QCheckBox] = {}
        for i, key in enumerate(TOLERANCE_NAMES):
            box = QCheckBox(TOLERANCE_HELP.get(key, key), link_box)
            box.setObjectName(f"tolerance_{key}")
            box.setToolTip(key)
            box.setAccessibleName(TOLERANCE_HELP.get(key, key))
            grid.addWidget(box, i // 2, i % 2)
            self.tolerances[key] = box
        self.receive_timeout = QLineEdit(link_box)
        self.receive_timeout.setAccessibleName("Receive timeout in seconds")
        self.reply_timeout = QLineEdit(link_box)
        self.reply_timeout.setAccessibleName("Reply timeout in seconds")
        self.download_orders = QCheckBox("Download pending orders to this analyzer", link_box)
        timers = QFormLayout()
        timers.addRow("Receive timeout (s)", self._with_error(self.receive_timeout, "receive_timeout"))
        timers.addRow("Reply timeout (s)", self._with_error(self.reply_timeout, "reply_timeout"))
        timers.addRow("", self.download_orders)
        grid.addLayout(timers, (len(TOLERANCE_NAMES) + 1) // 2, 0, 1, 2)

        self.form_error = self._error("form")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(general)
        layout.addWidget(transport_box)
        layout.addWidget(link_box)
        layout.addWidget(self.form_error)
        layout.addWidget(self.buttons)

        self.scan_ports()
        self.set_form(form_from_config(config) if config is not None else DeviceForm(
            driver="astm" if "astm" in self.drivers else (self.drivers[0] if self.drivers else "")))
        for edit in (self.name, self.host, self.port, self.tls_cert, self.tls_key, self.tls_ca,
                     self.receive_timeout, self.reply_timeout):
            edit.textChanged.connect(self.revalidate)
        for combo in (self.driver, self.kind, self.serial_device, self.baudrate, self.bytesize, self.parity,
                      self.stopbits):
            combo.currentTextChanged.connect(self.revalidate)
        for box in (self.enabled, self.tls_verify, self.rtscts, self.xonxoff, self.download_orders,
                    *self.tolerances.values()):
            box.toggled.connect(self.revalidate)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()
        self.revalidate()

    # -- layout helpers ------------------------------------------------------------------
    def _error(self, key: str) -> QLabel:
        label = _error_label(self, key)
        self.error_labels[key] = label
        return label

    def _pick_capture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Capture from this analyzer", "",
                                              "Captures (*.astm *.hl7 *.log *.txt);;All files (*)")
        if path:
            with open(path, "rb") as handle:
                self.detect_from_bytes(handle.read(4 * 1024 * 1024))

    def detect_from_bytes(self, data: bytes) -> str | None:
        """Offer the driver whose sender patterns match the capture's header; say why."""
        found = self._detect(data) if self._detect is not None else None
        if found is None:
            self.detect_note.setText("Neither ASTM nor HL7 was recognised in that file.")
            return None
        name, reason = found
        if self.driver.findText(name) < 0:
            self.driver.addItem(name)
        self.driver.setCurrentText(name)
        self.detect_note.setText(f"Detected: {reason}")
        return name

    def _with_error(self, widget: QWidget, key: str) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(1)
        column.addWidget(widget)
        column.addWidget(self._error(key))
        return box

    def _file_row(self, edit: QLineEdit, title: str) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        pick = QPushButton("…", box)
        pick.setAccessibleName(f"Choose TLS {title} file")
        pick.setMaximumWidth(32)
        pick.clicked.connect(lambda: self._pick_file(edit, title))
        row.addWidget(pick)
        return box

    def _pick_file(self, edit: QLineEdit, title: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Choose the TLS {title}", edit.text(),
                                              "PEM files (*.pem *.crt *.key *.cer);;All files (*)")
        if path:
            edit.setText(path)

    def scan_ports(self) -> None:
        ports: list[str] = []
        if self._list_ports is not None:
            try:
                ports = self._list_ports()
            except Exception:  # noqa: BLE001 - no ports is a valid answer; typing one in still works
                ports = []
        current = self.serial_device.currentText()
        self.serial_device.clear()
        self.serial_device.addItems(ports)
        self.serial_device.setCurrentText(current)
        self.serial_device.setToolTip("Ports found: " + (", ".join(ports) if ports else "none — type the name"))

    def _kind_changed(self, *_: Any) -> None:
        self.transport_pages.setCurrentIndex(1 if self.kind.currentData() == "serial" else 0)

    # -- form <-> widgets ----------------------------------------------------------------
    def set_form(self, form: DeviceForm) -> None:
        self.name.setText(form.name)
        if form.driver and self.driver.findText(form.driver) < 0:
            self.driver.addItem(form.driver)
        self.driver.setCurrentText(form.driver)
        self.enabled.setChecked(form.enabled)
        self.kind.setCurrentIndex(max(0, self.kind.findData(form.kind)))
        self.host.setText(form.host)
        self.port.setText(form.port)
        self.serial_device.setCurrentText(form.serial_device)
        self.baudrate.setCurrentText(form.baudrate)
        self.bytesize.setCurrentText(form.bytesize)
        self.parity.setCurrentText(form.parity)
        self.stopbits.setCurrentText(form.stopbits)
        self.rtscts.setChecked(form.rtscts)
        self.xonxoff.setChecked(form.xonxoff)
        self.tls_cert.setText(form.tls_cert)
        self.tls_key.setText(form.tls_key)
        self.tls_ca.setText(form.tls_ca)
        self.tls_verify.setChecked(form.tls_verify)
        for key, box in self.tolerances.items():
            box.setChecked(key in form.tolerances)
        self.receive_timeout.setText(form.receive_timeout)
        self.reply_timeout.setText(form.reply_timeout)
        self.download_orders.setChecked(form.download_orders)

    def form(self) -> DeviceForm:
        return DeviceForm(
            name=self.name.text(), driver=self.driver.currentText(), enabled=self.enabled.isChecked(),
            kind=str(self.kind.currentData()), host=self.host.text(), port=self.port.text(),
            serial_device=self.serial_device.currentText(), baudrate=self.baudrate.currentText(),
            bytesize=self.bytesize.currentText(), parity=self.parity.currentText(),
            stopbits=self.stopbits.currentText(), rtscts=self.rtscts.isChecked(), xonxoff=self.xonxoff.isChecked(),
            tls_cert=self.tls_cert.text(), tls_key=self.tls_key.text(), tls_ca=self.tls_ca.text(),
            tls_verify=self.tls_verify.isChecked(),
            tolerances=tuple(k for k, box in self.tolerances.items() if box.isChecked()),
            receive_timeout=self.receive_timeout.text(), reply_timeout=self.reply_timeout.text(),
            download_orders=self.download_orders.isChecked(),
        )

    def revalidate(self, *_: Any) -> bool:
        config, errors = validate_device(self.form(), drivers=self.drivers, taken_names=self.taken, base=self.base,
                                        others=self.others)
        self.errors = errors
        for key, label in self.error_labels.items():
            text = errors.get(key, "")
            label.setText(text)
            label.setVisible(bool(text))
        self.save_button.setEnabled(config is not None)
        self.result_config = config
        return config is not None

    def _accept(self) -> None:
        if self.revalidate():
            self.accept()

    def keyPressEvent(self, event: Any) -> None:
        # Enter in a field must not save a half-typed form; Save is enabled only when valid anyway.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self.save_button.isEnabled():
            return
        super().keyPressEvent(event)
