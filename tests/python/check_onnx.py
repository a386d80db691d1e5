"""Checks an ONNX file with the ONNX project's own checker (Debian's
python3-onnx) and prints its metadata properties as JSON, so that the tests
(tests/test_surrogate.cpp) can compare them with what refinery wrote.

    /usr/bin/python3 tests/python/check_onnx.py MODEL.onnx
"""
import json
import sys

import onnx

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
print(json.dumps({
    "ir_version": model.ir_version,
    "opset": [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")],
    "inputs": [i.name for i in model.graph.input],
    "outputs": [o.name for o in model.graph.output],
    "metadata": {p.key: p.value for p in model.metadata_props},
}))
