"""The jsii floor: an app with one empty-but-valid stack, synthesized by the same toolchain.

Run as `python -m bench.empty_app <outdir>`: it pays what every CDK app pays (Python start-up,
importing aws_cdk, starting the jsii Node runtime, writing an assembly) and nothing else.
"""

import sys

import aws_cdk as cdk

app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "Empty")
# CloudFormation refuses a template without resources; this one costs nothing.
cdk.CfnWaitConditionHandle(stack, "Placeholder")
app.synth()
