#!/usr/bin/env python3
"""Writes tests/fixtures/pdf: scanned-page PDFs and a multi-page TIFF made from page images
drawn here with a system font (our own words; nothing from ../shared). The PDFs are written
byte by byte so each one's structure is exactly what the tests name:

- two_scans.pdf    two pages, each one JPEG (DCTDecode) scan drawn over the whole page
- flate_scan.pdf   one page, one 8-bit grey image compressed with FlateDecode
- encrypted.pdf    a standard-security-handler PDF whose password is not empty
- no_pages.pdf     a valid PDF whose page tree has no pages
- two_pages.tif    a two-page TIFF of the same scans

Needs Pillow and DejaVu Sans (fonts-dejavu-core).

    python3 scripts/make_pdf_fixtures.py [OUT_DIR]
"""

import io
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DPI = 300
PAGES = [
    ["Invoice for the garden tools", "Two spades and a rake", "Paid in full on Monday"],
    ["Meeting notes for the club", "Bring the green folder", "Next visit is in April"],
]


def page_image(lines):
    """A white page with dark printed lines, the size of a small scan at 300 dpi."""
    font = ImageFont.truetype(FONT, 56)
    image = Image.new("RGB", (1400, 150 + 110 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(lines):
        draw.text((90, 90 + 110 * i), text, fill=(20, 20, 30), font=font)
    return image


class PdfWriter:
    """The few objects a scanner's PDF has, with a correct cross-reference table."""

    def __init__(self):
        self.objects = []

    def add(self, body: bytes) -> int:
        self.objects.append(body)
        return len(self.objects)

    def reserve(self) -> int:
        return self.add(b"")

    def set(self, number: int, body: bytes):
        self.objects[number - 1] = body

    def stream(self, entries: bytes, data: bytes) -> int:
        head = b"<< " + entries + b" /Length %d >>\nstream\n" % len(data)
        return self.add(head + data + b"\nendstream")

    def finish(self, root: int, trailer_extra: bytes = b"") -> bytes:
        out = io.BytesIO()
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, start=1):
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1))
        for offset in offsets:
            out.write(b"%010d 00000 n \n" % offset)
        out.write(
            b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
            % (len(self.objects) + 1, root, trailer_extra, xref)
        )
        return out.getvalue()


def scan_pdf(images, encode):
    """One page per image, the image covering the page at 300 dpi."""
    pdf = PdfWriter()
    tree = pdf.reserve()
    kids = []
    for image in images:
        entries, data = encode(image)
        xobject = pdf.stream(
            b"/Type /XObject /Subtype /Image /Width %d /Height %d " % image.size + entries,
            data,
        )
        w, h = (v * 72 / DPI for v in image.size)
        content = pdf.stream(b"", b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (w, h))
        kids.append(
            pdf.add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] " % (tree, w, h)
                + b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                % (xobject, content)
            )
        )
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    pdf.set(tree, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids)))
    root = pdf.add(b"<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.finish(root)


def jpeg(image):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    entries = b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode"
    return entries, buffer.getvalue()


def flate_grey(image):
    grey = image.convert("L")
    entries = b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode"
    return entries, zlib.compress(grey.tobytes())


def no_pages_pdf():
    pdf = PdfWriter()
    tree = pdf.add(b"<< /Type /Pages /Kids [] /Count 0 >>")
    root = pdf.add(b"<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.finish(root)


def encrypted_pdf():
    """RC4 40-bit standard security whose owner and user keys match no empty password."""
    pdf = PdfWriter()
    tree = pdf.add(b"<< /Type /Pages /Kids [] /Count 0 >>")
    root = pdf.add(b"<< /Type /Catalog /Pages %d 0 R >>" % tree)
    key = b"<" + b"5a" * 32 + b">"
    encrypt = pdf.add(b"<< /Filter /Standard /V 1 /R 2 /O %s /U %s /P -4 >>" % (key, key))
    ident = b"<" + b"0123456789abcdef" * 2 + b">"
    return pdf.finish(root, b"/Encrypt %d 0 R /ID [%s %s] " % (encrypt, ident, ident))


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/pdf")
    out.mkdir(parents=True, exist_ok=True)
    images = [page_image(lines) for lines in PAGES]
    (out / "two_scans.pdf").write_bytes(scan_pdf(images, jpeg))
    (out / "flate_scan.pdf").write_bytes(scan_pdf(images[:1], flate_grey))
    (out / "encrypted.pdf").write_bytes(encrypted_pdf())
    (out / "no_pages.pdf").write_bytes(no_pages_pdf())
    # Bilevel pages with PackBits, which Pillow writes without libtiff: a fax-like scan.
    bilevel = [i.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1") for i in images]
    bilevel[0].save(
        out / "two_pages.tif", save_all=True, append_images=bilevel[1:], compression="packbits"
    )
    for image, name in zip(images, ["page1.png", "page2.png"]):
        image.save(out / name)
    (out / "pages.txt").write_text("\n\n".join("\n".join(p) for p in PAGES) + "\n")


if __name__ == "__main__":
    main()
