"""Generate the sample .docx files in kb/sample/documents with python-docx (deterministic output).

Run: .venv/bin/python scripts/make_sample_docx.py
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

from docx import Document

OUT = Path(__file__).resolve().parent.parent / "kb" / "sample" / "documents"
FIXED = dt.datetime(2026, 3, 2, 9, 0, 0)


def _props(document, title: str, author: str) -> None:  # noqa: ANN001
    props = document.core_properties
    props.title = title
    props.author = author
    props.created = FIXED
    props.modified = FIXED
    props.last_modified_by = author
    props.revision = 1


def parental_leave() -> Document:
    d = Document()
    _props(d, "Parental leave policy", "Northbridge HR")
    d.add_heading("Parental leave policy", level=1)
    d.add_paragraph("This policy sets out the leave that employees of the Northbridge Benefits Agency can take "
                    "around the birth or adoption of a child. It applies to all employees with a contract of "
                    "at least three months.")
    d.add_heading("Entitlements", level=2)
    table = d.add_table(rows=1, cols=3)
    header = table.rows[0].cells
    header[0].text, header[1].text, header[2].text = "Leave", "Length", "Pay"
    for row in (("Birth leave (partner)", "1 week", "100%"), ("Additional birth leave", "5 weeks", "70%"),
                ("Paid parental leave", "9 weeks", "70%"), ("Unpaid parental leave", "17 weeks", "none")):
        cells = table.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text
    d.add_heading("How to request leave", level=2)
    for step in ("Tell your manager at least two months before the leave starts.",
                 "Submit the request in the HR portal with the expected date of birth or adoption.",
                 "HR confirms the leave and the pay in writing within ten working days."):
        d.add_paragraph(step, style="List Number")
    p = d.add_paragraph("Leave ")
    p.add_run("must").bold = True
    p.add_run(" be taken within the first year after the birth; paid parental leave can be spread over ")
    p.add_run("part-time weeks").italic = True
    p.add_run(".")
    d.add_heading("Questions", level=2)
    d.add_paragraph("Ask your HR business partner or write to the HR service desk.", style="List Bullet")
    return d


def fire_evacuation() -> Document:
    d = Document()
    _props(d, "Fire evacuation procedure", "Northbridge Facilities")
    d.add_heading("Fire evacuation procedure", level=1)
    d.add_paragraph("This procedure applies to everyone in the Northbridge office buildings: employees, "
                    "contractors and visitors. Fire wardens wear yellow vests and lead the evacuation.")
    d.add_heading("When the alarm sounds", level=2)
    for step in ("Stop work and leave immediately; do not collect belongings.",
                 "Use the nearest staircase; never use the lifts.",
                 "Help visitors and colleagues who need assistance, or tell a fire warden.",
                 "Go to the assembly point at the car park on Quay Street."):
        d.add_paragraph(step, style="List Number")
    d.add_heading("At the assembly point", level=2)
    d.add_paragraph("Report to your floor's fire warden, who checks the attendance list.", style="List Bullet")
    d.add_paragraph("Do not go back in until the fire service or the chief warden says it is safe.", style="List Bullet")
    d.add_heading("Drills", level=2)
    p = d.add_paragraph("An evacuation drill is held ")
    p.add_run("twice a year").bold = True
    p.add_run("; the results are recorded by Facilities.")
    return d


def _normalise_zip_times(path: Path) -> None:
    """Rewrite the zip with fixed member timestamps so the bytes (and SHA-256) are reproducible."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 3, 2, 9, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, data)


def main() -> None:
    for name, build in (("parental-leave-policy.docx", parental_leave), ("fire-evacuation-procedure.docx", fire_evacuation)):
        path = OUT / name
        build().save(path)
        _normalise_zip_times(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
