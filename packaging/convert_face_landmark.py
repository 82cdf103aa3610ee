"""Convert MediaPipe's face mesh landmark model (TFLite) into the ONNX file the editor bundles.

    pip install tflite onnx        # conversion only; the app needs neither
    python packaging/convert_face_landmark.py face_landmark.tflite

``face_landmark.tflite`` (Apache-2.0) ships in the ``mediapipe`` 0.10.21
wheel as ``mediapipe/modules/face_landmark/face_landmark.tflite``. It is a
small convolutional network (convolutions, depthwise convolutions, PReLU,
additions, max pooling, padding; float16 weights); each operator is written
here as its ONNX equivalent, on NCHW tensors, with float32 weights. The input
is ``image`` (1, 3, 192, 192) RGB in [0, 1]; the outputs ``landmarks``
(1, 1404): 468 points of x, y, z in input pixels, and ``presence`` (1, 1): a
logit that a face is there. Writes ``resources/models/face_landmark.onnx``
and checks it against TFLite's own interpreter when ``ai-edge-litert`` is
installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "resources" / "models" / "face_landmark.onnx"
OUTPUTS = {"conv2d_21": "landmarks", "conv2d_31": "presence"}
NUMPY_TYPES = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
               tflite.TensorType.INT32: np.int32}  # fmt: skip
OPERATORS = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


class Converter:
    """The TFLite graph's operators, one after another, as ONNX nodes on NCHW tensors."""

    def __init__(self, data: bytes) -> None:
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.constants: dict[int, np.ndarray] = {}  # tensor index → value (weights, dequantized)

    def name(self, index: int) -> str:
        return self.graph.Tensors(index).Name().decode()

    def constant(self, index: int) -> np.ndarray | None:
        if index in self.constants:
            return self.constants[index]
        tensor = self.graph.Tensors(index)
        raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw.size == 0:
            return None
        value = np.frombuffer(raw.tobytes(), NUMPY_TYPES[tensor.Type()]).reshape(tensor.ShapeAsNumpy())
        self.constants[index] = value
        return value

    def initializer(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def activation(self, output: str, fused: int) -> str:
        """The node's output name before a fused activation (added here after it)."""
        if fused == tflite.ActivationFunctionType.NONE:
            return output
        if fused != tflite.ActivationFunctionType.RELU:
            raise SystemExit(f"unsupported fused activation {fused}")
        self.nodes.append(helper.make_node("Relu", [output + "_pre"], [output]))
        return output + "_pre"

    def convert(self) -> onnx.ModelProto:
        for i in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            kind = OPERATORS[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            inputs, outputs = list(op.InputsAsNumpy()), list(op.OutputsAsNumpy())
            getattr(self, kind.lower())(op, inputs, outputs)
        (image,) = [self.name(i) for i in self.graph.InputsAsNumpy()]
        outputs = []
        for index in self.graph.OutputsAsNumpy():
            name = OUTPUTS[self.name(index)]
            self.nodes.append(helper.make_node("Flatten", [self.name(index)], [name]))
            size = int(np.prod(self.graph.Tensors(index).ShapeAsNumpy()))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, size]))
        self.nodes.insert(0, helper.make_node("Identity", ["image"], [image]))
        graph = helper.make_graph(
            self.nodes,
            "face_landmark",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 192, 192])],
            outputs,
            self.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.doc_string = "MediaPipe face mesh landmarks (Apache-2.0), converted by convert_face_landmark.py"
        onnx.checker.check_model(model)
        return model

    # one method per TFLite operator -------------------------------------------------------------------
    def dequantize(self, op, inputs, outputs) -> None:  # noqa: ANN001
        self.constants[outputs[0]] = self.constant(inputs[0]).astype(np.float32)

    def _conv(self, op, inputs, outputs, weights: np.ndarray, group: int, options) -> None:  # noqa: ANN001
        name = self.name(outputs[0])
        bias = self.constant(inputs[2]).astype(np.float32)
        padding = "SAME_UPPER" if options.Padding() == tflite.Padding.SAME else "VALID"
        node = helper.make_node(
            "Conv",
            [
                self.name(inputs[0]),
                self.initializer(name + "_w", weights),
                self.initializer(name + "_b", bias),
            ],
            [self.activation(name, options.FusedActivationFunction())],
            strides=[options.StrideH(), options.StrideW()],
            dilations=[options.DilationHFactor(), options.DilationWFactor()],
            group=group,
            auto_pad=padding,
        )
        self.nodes.append(node)

    def conv_2d(self, op, inputs, outputs) -> None:  # noqa: ANN001
        options = tflite.Conv2DOptions()
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        weights = self.constant(inputs[1]).astype(np.float32).transpose(0, 3, 1, 2)  # OHWI → OIHW
        self._conv(op, inputs, outputs, np.ascontiguousarray(weights), 1, options)

    def depthwise_conv_2d(self, op, inputs, outputs) -> None:  # noqa: ANN001
        options = tflite.DepthwiseConv2DOptions()
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        if options.DepthMultiplier() != 1:
            raise SystemExit("unsupported depth multiplier")
        weights = self.constant(inputs[1]).astype(np.float32).transpose(3, 0, 1, 2)  # 1HWC → C1HW
        self._conv(op, inputs, outputs, np.ascontiguousarray(weights), weights.shape[0], options)

    def prelu(self, op, inputs, outputs) -> None:  # noqa: ANN001
        name = self.name(outputs[0])
        slope = self.constant(inputs[1]).astype(np.float32)
        slope = np.ascontiguousarray(
            slope.reshape((-1, *slope.shape[-3:]))[0].transpose(2, 0, 1)
        )  # HWC → CHW
        self.nodes.append(
            helper.make_node(
                "PRelu", [self.name(inputs[0]), self.initializer(name + "_slope", slope)], [name]
            )
        )

    def add(self, op, inputs, outputs) -> None:  # noqa: ANN001
        options = tflite.AddOptions()
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        name = self.name(outputs[0])
        out = self.activation(name, options.FusedActivationFunction())
        self.nodes.append(helper.make_node("Add", [self.name(inputs[0]), self.name(inputs[1])], [out]))

    def max_pool_2d(self, op, inputs, outputs) -> None:  # noqa: ANN001
        options = tflite.Pool2DOptions()
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        name = self.name(outputs[0])
        node = helper.make_node(
            "MaxPool",
            [self.name(inputs[0])],
            [self.activation(name, options.FusedActivationFunction())],
            kernel_shape=[options.FilterHeight(), options.FilterWidth()],
            strides=[options.StrideH(), options.StrideW()],
            auto_pad="SAME_UPPER" if options.Padding() == tflite.Padding.SAME else "VALID",
        )
        self.nodes.append(node)

    def pad(self, op, inputs, outputs) -> None:  # noqa: ANN001
        name = self.name(outputs[0])
        nhwc = self.constant(inputs[1]).astype(np.int64)  # (4, 2): before, after per NHWC axis
        nchw = nhwc[[0, 3, 1, 2]]
        pads = np.concatenate([nchw[:, 0], nchw[:, 1]])
        self.nodes.append(
            helper.make_node("Pad", [self.name(inputs[0]), self.initializer(name + "_pads", pads)], [name])
        )


def check_against_tflite(tflite_path: Path, onnx_path: Path) -> None:
    """Compare both on random and smooth inputs (skipped without ai-edge-litert)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        print("ai-edge-litert is not installed: not checked against TFLite", file=sys.stderr)
        return
    import onnxruntime as ort

    interpreter = Interpreter(model_path=str(tflite_path))
    interpreter.allocate_tensors()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for _ in range(3):
        image = rng.random((1, 192, 192, 3), np.float32)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
        interpreter.invoke()
        expected = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
        got = session.run(None, {"image": image.transpose(0, 3, 1, 2).copy()})
        for (name, value), mine in zip(sorted(expected.items()), got, strict=True):
            error = float(np.abs(value.reshape(mine.shape) - mine).max())
            print(f"{OUTPUTS[name]}: largest difference from TFLite {error:.2e}")
            if error > 1e-2:
                raise SystemExit(f"{OUTPUTS[name]} differs from TFLite by {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tflite", type=Path, help="face_landmark.tflite from the mediapipe wheel")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    model = Converter(args.tflite.read_bytes()).convert()
    onnx.save(model, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    check_against_tflite(args.tflite, args.out)


if __name__ == "__main__":
    main()
