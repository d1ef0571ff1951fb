# This file is part of quiver (https://github.com/…/quiver); dual-licensed MIT OR Apache-2.0.
"""BenchExec tool-info module for quiver, a verifier for quantized neural networks.

Install: put this file where BenchExec finds tool-info modules, e.g. on PYTHONPATH as
`quiver.py` and refer to it as `tool="quiver"` in a benchmark definition, or copy it into
`benchexec/tools/`. See docs/experiments.md ("BenchExec").

Tasks: a task's input files are the network (quiver JSON, int8 ONNX, Keras fixed-point .h5, or
`@bundled`) and, optionally, a VNN-LIB property. Robustness tasks give their property through the
task-definition options instead, e.g. `options: {robust: true, dataset: "@bundled", index: 3,
eps: 2}`; every option `key: value` becomes `--key value` (`true`: a bare flag). The expected
verdict (`expected_verdict: true` = the property holds) is compared with quiver's verdict:
exit code 0 = true, 10 = false (a replayed counterexample), 20 = unknown.
"""

import benchexec.result as result
import benchexec.tools.template


class Tool(benchexec.tools.template.BaseTool2):
    """Tool info for quiver (`quiver verify`)."""

    REQUIRED_PATHS = []

    def executable(self, tool_locator):
        return tool_locator.find_executable("quiver", subdir="target/release")

    def name(self):
        return "quiver"

    def project_url(self):
        return "https://github.com/quiver-verifier/quiver"

    def version(self, executable):
        # `quiver --version` prints "quiver 0.1.0".
        return self._version_from_tool(executable, line_prefix="quiver ")

    def cmdline(self, executable, options, task, rlimits):
        files = list(task.input_files_or_identifier)
        vnnlib = [f for f in files if str(f).endswith(".vnnlib")]
        models = [f for f in files if not str(f).endswith(".vnnlib")]
        cmd = [executable, "verify"] + models
        for v in vnnlib:
            cmd += ["--vnnlib", v]
        task_opts = task.options or {}
        for key, value in task_opts.items():
            flag = "--" + str(key).replace("_", "-")
            if value is True:
                cmd.append(flag)
            elif value is not False and value is not None:
                cmd += [flag, str(value)]
        cmd += list(options)
        # Give the backend the CPU-time limit (minus a margin for loading), unless set already.
        if rlimits.cputime and "--timeout" not in cmd:
            cmd += ["--timeout", str(max(1, int(rlimits.cputime * 0.9) - 1))]
        return cmd

    def determine_result(self, run):
        code = run.exit_code.value
        if run.exit_code.signal is not None:
            return "KILLED BY SIGNAL " + str(run.exit_code.signal)
        if code == 0:
            return result.RESULT_TRUE_PROP
        if code == 10:
            return result.RESULT_FALSE_PROP
        if code == 20:
            for line in run.output:
                if "time limit" in line:
                    return result.RESULT_TIMEOUT
            return result.RESULT_UNKNOWN
        if code == 3:
            return result.RESULT_ERROR + "(soundness alarm)"
        if code == 2:
            return result.RESULT_ERROR + "(bad input)"
        return result.RESULT_ERROR + "(exit code {})".format(code)

    def get_value_from_output(self, output, identifier):
        # e.g. identifier "result" → the text after "result" on the line starting with it.
        for line in output:
            if line.startswith(identifier):
                return line[len(identifier):].strip()
        return None
