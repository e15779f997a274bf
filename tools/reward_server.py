#!/usr/bin/env python3
"""reward_server.py: a reward server for `cgrpo train` (reward_id = http or reward_prompt = http).

It speaks the protocol of docs/reward_protocol.md: POST /score with one JSON request per batch of
images, answer {"scores": [one float per image]}. Out of the box it serves cgrpo's own shipped
reward models (id, prompt, judge-id, judge-id-plain, judge-clip-i, judge-clip-t, attr, id-pix) by
handing each request to `cgrpo score --request -`, which scores it exactly as the trainer does
in-process (with image_format f32 the scores are the same bits). To serve a model of your own
(DINOv2, HPS-v3, PickScore, CLIP, ...), add a function to PLUGINS below: see the two examples.

    python3 tools/reward_server.py --models models --port 8123
    build/cgrpo train --out runs/http --reward-prompt http --http-url http://127.0.0.1:8123/score

Standard library only (http.server). Options:
    --host H --port P   where to listen (127.0.0.1:8123; port 0: a free port chosen by the system)
    --port-file FILE    write the port there once listening (for scripts that used --port 0)
    --cgrpo BIN         the cgrpo binary (build/cgrpo)    --models DIR   its weights (models)
    --api-key-env NAME  require "Authorization: Bearer $NAME" (401 otherwise)
    --fault MODE        misbehave on every request, for tests (tests/cli_http_reward.sh):
                        hang (never answer), garbage (200 with HTML), count (one score short),
                        500 (HTTP 500), close (close the connection without answering),
                        nan (a NaN score, which is not JSON), big (an oversize answer)
    --quiet             no log line per request
"""
import argparse
import base64
import json
import os
import struct
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROTOCOL = "cgrpo-reward/1"
MAX_REQUEST = 1 << 30  # bytes, as `cgrpo score --request` reads at most
FAULTS = ("hang", "garbage", "count", "500", "close", "nan", "big")


class RequestError(Exception):
    """A bad request: answered 400 with its message."""


# ---- helpers for plugins -------------------------------------------------------------------------

def image_rows(request):
    """Yield (group, image) for every image of the request, in the order of the answer's scores."""
    for group in request["groups"]:
        for image in group["images"]:
            yield group, image


def decode_f32(b64, size):
    """An image of image_format f32 as a flat list of size*size*3 floats (HWC, in [-1, 1])."""
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != size * size * 3 * 4:
        raise RequestError("an f32 image of %d bytes, want %d" % (len(raw), size * size * 12))
    return list(struct.unpack("<%df" % (size * size * 3), raw))


def png_bytes(b64):
    """An image of image_format png as the bytes of its PNG file; open it with PIL:
    PIL.Image.open(io.BytesIO(png_bytes(s))).convert("RGB")."""
    return base64.b64decode(b64, validate=True)


# ---- plugins: reward name -> function(request) -> list of floats, one per image ------------------
#
# A request names the reward it wants ("reward": the trainer's http_id_reward / http_prompt_reward
# key). Names listed here are scored by the function; every other name goes to `cgrpo score`.
# Where to plug in DINOv2 (an identity reward, DINO-Seg as in the paper) and HPS-v3 (a prompt /
# preference reward); both want image_format = png (the trainer's http_format key):
#
#   import io, torch, PIL.Image
#   from transformers import AutoImageProcessor, AutoModel
#   dino_proc = AutoImageProcessor.from_pretrained("facebook/dinov2-base")
#   dino = AutoModel.from_pretrained("facebook/dinov2-base").eval()
#
#   def dinov2_seg(request):
#       def embed(b64s):
#           images = [PIL.Image.open(io.BytesIO(png_bytes(s))).convert("RGB") for s in b64s]
#           with torch.no_grad():
#               out = dino(**dino_proc(images=images, return_tensors="pt")).last_hidden_state[:, 0]
#           return torch.nn.functional.normalize(out, dim=-1)
#       scores = []
#       for group in request["groups"]:  # one reference per group: embed it once
#           ref = embed([group["reference_seg"]])
#           scores += (100.0 * embed(group["images"]) @ ref.T).squeeze(1).tolist()
#       return scores
#
#   def hps_v3(request):  # a preference model scores (image, prompt text) pairs
#       scores = []
#       for group in request["groups"]:
#           images = [PIL.Image.open(io.BytesIO(png_bytes(s))).convert("RGB") for s in group["images"]]
#           scores += hps_model_score(images, [group["prompt"]] * len(images))  # HPS-v3's own call,
#       return scores                                                        # see its README
#
#   PLUGINS = {"dinov2-seg": dinov2_seg, "hps-v3": hps_v3}
#
# and train with reward_id = http, http_id_reward = dinov2-seg, reward_prompt = http,
# http_prompt_reward = hps-v3, http_format = png.
PLUGINS = {}


# ---- scoring -------------------------------------------------------------------------------------

def score_with_cgrpo(body, args):
    """Score a request with cgrpo's own rewards: (status, answer bytes)."""
    p = subprocess.run([args.cgrpo, "score", "--models", args.models, "--request", "-"], input=body,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode == 0:
        return 200, p.stdout
    reason = (p.stderr.decode("utf-8", "replace").strip().splitlines() or ["cgrpo score failed"])[-1]
    return (400 if p.returncode == 2 else 500), error_body(reason)


def error_body(message):
    return json.dumps({"error": message}).encode() + b"\n"


def score(body, args):
    """(status, answer bytes) for a request body."""
    try:
        request = json.loads(body)
        name = request["reward"] if isinstance(request, dict) else None
    except (ValueError, KeyError):
        return 400, error_body("the request is not a JSON object with a \"reward\"")
    if name not in PLUGINS:
        return score_with_cgrpo(body, args)
    if request.get("protocol") != PROTOCOL:
        return 400, error_body("the request's protocol is not %s" % PROTOCOL)
    try:
        scores = [float(s) for s in PLUGINS[name](request)]
    except RequestError as e:
        return 400, error_body(str(e))
    return 200, json.dumps({"scores": scores}).encode() + b"\n"


def faulty(fault, status, answer):
    """What --fault MODE makes of a good (status, answer)."""
    if fault == "garbage":
        return 200, b"<html><body>502 Bad Gateway (but with status 200)</body></html>\n"
    if fault == "500":
        return 500, error_body("injected fault: 500")
    if status != 200:
        return status, answer
    scores = json.loads(answer)["scores"]
    if fault == "count":
        return 200, json.dumps({"scores": scores[:-1]}).encode()
    if fault == "nan":
        return 200, json.dumps({"scores": [float("nan")] + scores[1:]}).encode()  # json writes NaN
    if fault == "big":
        return 200, json.dumps({"scores": scores, "pad": "x" * (70000 + 64 * len(scores))}).encode()
    return status, answer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the trainer reuses its connection
    server_version = "cgrpo-reward-server/1"

    def send(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/health":
            return self.send(404, error_body("GET /health or POST /score"))
        self.send(200, json.dumps({"ok": True, "protocol": PROTOCOL, "plugins": sorted(PLUGINS)}).encode())

    def do_POST(self):
        args = self.server.args
        if self.path != "/score":
            return self.send(404, error_body("POST /score"))
        key = os.environ.get(args.api_key_env, "") if args.api_key_env else ""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            return self.send(411, error_body("a request needs a Content-Length"))
        if length < 0 or length > MAX_REQUEST:
            self.close_connection = True
            return self.send(413, error_body("a request of %d bytes, at most %d" % (length, MAX_REQUEST)))
        body = self.rfile.read(length)
        if key and self.headers.get("Authorization", "") != "Bearer " + key:
            return self.send(401, error_body("missing or wrong API key"))
        if args.fault == "hang":
            time.sleep(3600)
        if args.fault == "close":
            self.close_connection = True
            return
        status, answer = score(body, args)
        if args.fault:
            status, answer = faulty(args.fault, status, answer)
        self.send(status, answer, "text/html" if args.fault == "garbage" else "application/json")

    def log_message(self, fmt, *fmt_args):
        if not self.server.args.quiet:
            sys.stderr.write("reward_server: %s %s\n" % (self.address_string(), fmt % fmt_args))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--port-file")
    ap.add_argument("--cgrpo", default="build/cgrpo")
    ap.add_argument("--models", default="models")
    ap.add_argument("--api-key-env")
    ap.add_argument("--fault", choices=FAULTS)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if not os.access(args.cgrpo, os.X_OK):
        ap.error("--cgrpo %s is not an executable (build it with make)" % args.cgrpo)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.args = args
    port = server.server_address[1]
    if args.port_file:  # written whole, then renamed: a reader never sees half a number
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    print("reward_server: listening on http://%s:%d/score (models %s%s)" %
          (args.host, port, args.models, ", fault " + args.fault if args.fault else ""), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
