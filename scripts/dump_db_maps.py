"""Dumps PP-OCRv4 detector probability maps (onnxruntime) and RapidOCR 1.4.4's own DBNet
post-processing boxes for the printed pages of ../shared/eval, so the Rust post-processing can
be compared with the reference (tests/pages_post.rs: db_post_matches_rapidocr_boxes).

    python scripts/dump_db_maps.py OUT_DIR        # then: INKREAD_DB_MAPS=OUT_DIR cargo test --test pages_post

Needs numpy, opencv, onnxruntime, pyclipper, shapely; the RapidOCR wheel is unpacked from
$INKREAD_WHEELS (default /work/wheels). Pages are resized to a longest side of 1600 px
(RapidOCR itself keeps them whole) to keep the maps small.
"""
import sys, json, glob, os, tempfile, zipfile
import numpy as np, cv2, onnxruntime as ort

wheels = os.environ.get('INKREAD_WHEELS', '/work/wheels')
unpacked = tempfile.mkdtemp()
zipfile.ZipFile(os.path.join(wheels, 'rapidocr_onnxruntime-1.4.4-py3-none-any.whl')).extractall(unpacked)
sys.path.insert(0, unpacked)
from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess

models = os.environ.get('INKREAD_MODEL_DIR', '/work/modelcache')
shared = os.environ.get('INKREAD_SHARED_DIR', os.path.join(os.path.dirname(__file__), '..', '..', 'shared'))
sess = ort.InferenceSession(os.path.join(models, 'ppocr-v4-det/ch_PP-OCRv4_det_infer.onnx'), providers=['CPUExecutionProvider'])
post = DBPostProcess(thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6, use_dilation=True, score_mode='fast')
out = sys.argv[1]; os.makedirs(out, exist_ok=True)
pages = os.path.join(shared, 'eval/pages/printed')
found = sorted(glob.glob(os.path.join(pages, '*.lines.json')))
if not found:
    sys.exit(f'no pages under {pages}: set INKREAD_SHARED_DIR to the folder holding eval/')
for path in found:
    stem = os.path.basename(path)[:-len('.lines.json')]
    img_path = [p for p in glob.glob(os.path.join(pages, stem + '.*')) if p.endswith(('.png', '.jpg'))][0]
    img = cv2.imread(img_path)  # BGR like RapidOCR's loader output
    h, w = img.shape[:2]
    r = min(1.0, 1600.0 / max(h, w))
    rh, rw = max(32, int(round(int(h*r)/32)*32)), max(32, int(round(int(w*r)/32)*32))
    x = cv2.resize(img, (rw, rh)).astype('float32') / 255.0
    x = ((x - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32)
    pred = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    boxes, scores = post(pred, (h, w))
    m = pred[0, 0].astype('<f4')
    m.tofile(f'{out}/{stem}.f32')
    json.dump({'map_w': int(m.shape[1]), 'map_h': int(m.shape[0]), 'page_w': w, 'page_h': h,
               'boxes': [b.tolist() for b in boxes], 'scores': [float(s) for s in scores],
               'lines_json': path}, open(f'{out}/{stem}.json', 'w'))
    print(stem, m.shape, len(boxes), flush=True)
