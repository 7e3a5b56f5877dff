"""AWS Neuron targets (inf2, trn1): torch-neuronx traces of the pipeline's components.

Follows the published torch-neuronx Stable Diffusion recipe: text encoder, UNet (through a
tensor-only wrapper), VAE decoder and post_quant_conv are each traced at the build's static
shapes; matmuls auto-cast to bf16; the UNet is compiled with --model-type=unet-inference and run
data-parallel over two NeuronCores (CFG's two halves on separate cores); weights are inlined into
the NEFF, since separately stored weights made SD about 3x slower in public reports. Without the
Neuron SDK the target reports what is missing, and compile_job() writes a Kubernetes Job that runs
the same compile on a Neuron node.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

from accelctl.errors import InputError
from accelctl.shape import Shape
from accelctl.targets.base import (
    Progress,
    Target,
    latent_shape,
    read_config,
    save_pipeline,
    scheduler_and_tokenizer,
    targets,
)

NEURON_DIR = "neuron"
UNET_CORES = 2  # every inf2/trn1 size has at least two NeuronCores; CFG's halves go one per core
DEFAULT_INSTANCE = {"inf2": "inf2.8xlarge", "trn1": "trn1.2xlarge"}
# The images' numeric user and group (images/*/Dockerfile USER), as every rendered workload runs.
RUN_AS = 1000
# The compile's scratch space on /tmp: the Hub download of the model plus neuronx-cc's work folders.
SCRATCH = "50Gi"
# (vCPUs, GiB) of the Neuron instance types, so a compile Job asks for what its node can give.
NEURON_NODES = {
    "inf2.xlarge": (4, 16),
    "inf2.8xlarge": (32, 128),
    "inf2.24xlarge": (96, 384),
    "inf2.48xlarge": (192, 768),
    "trn1.2xlarge": (8, 32),
    "trn1.32xlarge": (128, 512),
    "trn1n.32xlarge": (128, 512),
}
MISSING = (
    "torch-neuronx is not installed (it ships with the AWS Neuron SDK on inf2/trn1 hosts, from AWS's "
    "Neuron pip index); run this compile on a Neuron node, or write a Kubernetes Job for one with "
    "`accelctl compile ... --emit-job job.yaml` and `kubectl apply -f job.yaml`"
)


def compiler_args(target: str, dtype: str, unet: bool) -> list[str]:
    args = [f"--target={target}"]
    if dtype == "bf16":
        args += ["--auto-cast", "matmult", "--auto-cast-type", "bf16"]
    if unet:
        args.append("--model-type=unet-inference")
    return args


class Neuron(Target):
    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec("torch_neuronx") is None:
            return False, MISSING
        return True, ""

    def load_dtype(self, dtype: str) -> str:
        # Weights stay fp32; the compiler's auto-cast lowers matmuls to bf16.
        return "fp32"

    def compile(self, pipe, shape: Shape, build_dir: Path, progress: Progress) -> dict[str, str]:
        import torch
        import torch_neuronx

        from accelctl.targets import export

        shapes = export.shapes_of(pipe, shape.height, shape.width, shape.batch)
        if shapes.cfg_batch % UNET_CORES:
            raise InputError(f"batch {shape.batch}: the UNet batch must split over {UNET_CORES} NeuronCores")
        inputs = export.example_inputs(shapes, torch.float32)
        sample, _, hidden = inputs["unet"]
        per_core = shapes.cfg_batch // UNET_CORES
        latents = inputs["vae_decoder"][0]
        plan = {
            "text_encoder": (export.TextEncoder(pipe.text_encoder).eval(), inputs["text_encoder"], False),
            "unet": (
                export.UNet(pipe.unet).eval(),
                (sample[:per_core], torch.zeros(per_core), hidden[:per_core]),
                True,
            ),
            "vae_decoder": (pipe.vae.decoder.eval(), (latents,), True),
            "vae_post_quant_conv": (pipe.vae.post_quant_conv.eval(), (latents,), False),
        }
        out = build_dir / NEURON_DIR
        out.mkdir(parents=True)
        os.environ.setdefault("NEURON_FUSE_SOFTMAX", "1")
        for done, (name, (module, example, is_unet)) in enumerate(plan.items()):
            progress(f"neuronx-cc {name}", done, len(plan) + 1)
            with tempfile.TemporaryDirectory(prefix=f"neuron-{name}-") as workdir, torch.no_grad():
                traced = torch_neuronx.trace(
                    module,
                    example,
                    compiler_workdir=workdir,
                    compiler_args=compiler_args(self.name, shape.dtype, is_unet),
                    inline_weights_to_neff=True,
                )
            torch.jit.save(traced, str(out / f"{name}.pt"))
        progress("save pipeline", len(plan), len(plan) + 1)
        save_pipeline(pipe, build_dir, drop_weights=export.COMPONENTS)
        progress("save pipeline", len(plan) + 1, len(plan) + 1)
        return {
            "text_encoder": "neuron",
            "unet": f"neuron, data-parallel over {UNET_CORES} NeuronCores",
            "vae_decoder": "neuron (post_quant_conv + decoder)",
        }

    def load(self, build_dir: Path, shape: Shape):
        import torch
        import torch_neuronx

        from accelctl.models.sampling import Components

        graphs = {p.stem: torch.jit.load(str(p)) for p in sorted((build_dir / NEURON_DIR).glob("*.pt"))}
        unet = torch_neuronx.DataParallel(graphs["unet"], list(range(UNET_CORES)), set_dynamic_batching=False)
        tokenizer, scheduler_cls, scheduler_config = scheduler_and_tokenizer(build_dir)
        post_quant_conv, decoder = graphs["vae_post_quant_conv"], graphs["vae_decoder"]
        return Components(
            tokenizer=tokenizer,
            scheduler_class=scheduler_cls,
            scheduler_config=scheduler_config,
            encode=graphs["text_encoder"],
            # The UNet was traced with a float timestep; schedulers hand out integer ones.
            denoise=lambda x, t, emb: unet(x, t.float(), emb),
            decode=lambda z: decoder(post_quant_conv(z)),
            latent_shape=latent_shape(build_dir, shape),
            scaling_factor=read_config(build_dir, "vae")["scaling_factor"],
            dtype=torch.float32,
        )


@targets.register("inf2")
class Inf2(Neuron):
    name = "inf2"


@targets.register("trn1")
class Trn1(Neuron):
    name = "trn1"


def compile_job(
    *,
    model: str,
    target: str,
    shape: Shape,
    image: str,
    namespace: str = "default",
    instance_type: str | None = None,
    name: str | None = None,
    builds_claim: str = "accelctl-model-builds",
) -> dict:
    """A Kubernetes batch/v1 Job that runs `accelctl compile` for a Neuron target on an inf2/trn1
    node, writing the build to the PersistentVolumeClaim `builds_claim` mounted at /model_builds."""
    from accelctl.units import slug

    if target not in DEFAULT_INSTANCE:
        raise InputError(f"--emit-job is for Neuron targets ({', '.join(DEFAULT_INSTANCE)}), not {target!r}")
    instance_type = instance_type or DEFAULT_INSTANCE[target]
    if not instance_type.startswith(target):
        raise InputError(f"instance type {instance_type!r} is not a {target} instance")
    if instance_type not in NEURON_NODES:
        raise InputError(
            f"instance type {instance_type!r}: unknown size; use one of {', '.join(NEURON_NODES)}"
        )
    name = name or slug(f"compile-{model.split('/')[-1]}-{target}-{shape.label}")
    vcpus, gib = NEURON_NODES[instance_type]
    # Leave a vCPU and a quarter of memory to the kubelet, system pods and the Neuron runtime.
    cpu, memory = str(max(vcpus - 1, 1)), f"{gib * 3 // 4}Gi"
    labels = {
        "app.kubernetes.io/name": "accelctl",
        "app.kubernetes.io/component": "compile",
        "accelctl/target": target,
    }
    command = [
        "accelctl",
        "compile",
        "--model",
        model,
        "--target",
        target,
        "--height",
        str(shape.height),
        "--width",
        str(shape.width),
        "--batch",
        str(shape.batch),
        "--dtype",
        shape.dtype,
        "--steps",
        str(shape.steps),
        "--out",
        "/model_builds",
    ]
    container = {
        "name": "compile",
        "image": image,
        "command": command,
        # The model comes from the Hub (into HF_HOME under /tmp): no HF_HUB_OFFLINE here, unlike serve.
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "NEURON_FUSE_SOFTMAX", "value": "1"}],
        # neuronx-cc is CPU- and memory-hungry: take most of the node; one Neuron device is
        # enough to load-test the result.
        "resources": {
            "requests": {"cpu": cpu, "memory": memory, "aws.amazon.com/neuron": "1"},
            "limits": {"cpu": cpu, "memory": memory, "aws.amazon.com/neuron": "1"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "model-builds", "mountPath": "/model_builds"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "backoffLimit": 1,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,  # it never talks to the API server
                    # fsGroup makes a block-volume claim writable; an EFS claim needs an access point
                    # owned by this uid/gid instead (EFS ignores fsGroup).
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "fsGroup": RUN_AS,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "nodeSelector": {"node.kubernetes.io/instance-type": instance_type},
                    "tolerations": [
                        {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "containers": [container],
                    "volumes": [
                        {"name": "model-builds", "persistentVolumeClaim": {"claimName": builds_claim}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": SCRATCH}},
                    ],
                },
            },
        },
    }
