"""Dumps PP-OCRv4 detector probability maps (onnxruntime) and RapidOCR 1.4.4's own DBNet
post-processing boxes, so the Rust post-processing can be compared with the reference
(tests/pages_post.rs: db_post_matches_rapidocr_boxes).

    python scripts/dump_db_maps.py                      # the committed fixtures (our own pages)
    python scripts/dump_db_maps.py OUT_DIR [IMAGE...]   # other pages; default: ../shared printed eval pages
    INKREAD_DB_MAPS=OUT_DIR cargo test --test pages_post db_post

The committed fixtures (tests/fixtures/db_maps) come from pages this project drew itself
(assets/sample-page.png, tests/fixtures/paddle/synthetic_page.png); no evaluation data.
Each map is stored as an 8-bit grey PNG (probability * 255, rounded) to keep it small, and
RapidOCR's post-processing runs on that same quantized map, so both sides see equal input.

Needs numpy, opencv, onnxruntime, pyclipper, shapely and rapidocr_onnxruntime==1.4.4
(`pip install rapidocr_onnxruntime==1.4.4` brings them all). The detector is read from
$INKREAD_MODEL_DIR/ppocr-v4-det (default: the inkread model store). Pages are resized to a
longest side of MAX_SIDE px to keep the maps small.
"""
import glob
import json
import os
import sys

import cv2
import numpy as np
import onnxruntime as ort
from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess

MAX_SIDE = int(os.environ.get('INKREAD_DB_MAX_SIDE', '960'))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OWN_PAGES = [os.path.join(ROOT, 'assets/sample-page.png'),
             os.path.join(ROOT, 'tests/fixtures/paddle/synthetic_page.png')]


def model_path():
    data = os.environ.get('XDG_DATA_HOME', os.path.expanduser('~/.local/share'))
    store = os.environ.get('INKREAD_MODEL_DIR', os.path.join(data, 'inkread', 'models'))
    return os.path.join(store, 'ppocr-v4-det', 'ch_PP-OCRv4_det_infer.onnx')


def shared_pages():
    shared = os.environ.get('INKREAD_SHARED_DIR', os.path.join(ROOT, '..', 'shared'))
    pages = os.path.join(shared, 'eval/pages/printed')
    found = sorted(glob.glob(os.path.join(pages, '*.lines.json')))
    if not found:
        sys.exit(f'no pages under {pages}: set INKREAD_SHARED_DIR to the folder holding eval/')
    images = []
    for path in found:
        stem = path[:-len('.lines.json')]
        images += [p for p in glob.glob(stem + '.*') if p.endswith(('.png', '.jpg'))][:1]
    return images


def dump(sess, post, img_path, out):
    img = cv2.imread(img_path)  # BGR like RapidOCR's loader output
    if img is None:
        sys.exit(f'cannot read {img_path}')
    h, w = img.shape[:2]
    r = min(1.0, MAX_SIDE / max(h, w))
    rh, rw = max(32, int(round(int(h*r)/32)*32)), max(32, int(round(int(w*r)/32)*32))
    x = cv2.resize(img, (rw, rh)).astype('float32') / 255.0
    x = ((x - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32)
    pred = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    quantized = np.clip(np.rint(pred[0, 0] * 255.0), 0, 255).astype(np.uint8)
    boxes, scores = post((quantized.astype(np.float32) / 255.0)[None, None], (h, w))
    stem = os.path.splitext(os.path.basename(img_path))[0]
    cv2.imwrite(os.path.join(out, f'{stem}.map.png'), quantized)
    with open(os.path.join(out, f'{stem}.json'), 'w') as f:
        json.dump({'map_w': int(quantized.shape[1]), 'map_h': int(quantized.shape[0]),
                   'page_w': w, 'page_h': h, 'map_encoding': 'u8 png: probability * 255',
                   'boxes': [b.tolist() for b in boxes], 'scores': [float(s) for s in scores],
                   'source': os.path.relpath(img_path, ROOT)}, f)
    print(stem, quantized.shape, len(boxes), flush=True)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'tests/fixtures/db_maps')
    images = sys.argv[2:] or (OWN_PAGES if len(sys.argv) == 1 else shared_pages())
    os.makedirs(out, exist_ok=True)
    sess = ort.InferenceSession(model_path(), providers=['CPUExecutionProvider'])
    post = DBPostProcess(thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6,
                         use_dilation=True, score_mode='fast')
    for img_path in images:
        dump(sess, post, img_path, out)


if __name__ == '__main__':
    main()
