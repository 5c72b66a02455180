"""A plain PyTorch GAN on eight Gaussians in a ring, watched by ganlab.

The training loop is yours; the lines marked `# ganlab` (nine of them) measure it with
ganlab's monitors, label its phases, apply the collapse rule and log everything to MLflow
as a ganlab run would (`mlflow ui --backend-store-uri sqlite:///mlflow.db`).

    python examples/own_loop.py --epochs 20

--init-seed and --batch-seed fix the initial weights and the training batches; the test
tests/test_own_loop.py passes the seeds ganlab-train derives from `seed=0` and checks that
every monitor this script logs equals that run's.
"""

import argparse

import torch
import torch.nn.functional as F
from torch import nn

import ganlab  # ganlab

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--steps", type=int, default=250, help="steps per epoch")
parser.add_argument("--batch", type=int, default=256)
parser.add_argument("--init-seed", type=int, default=0)
parser.add_argument("--batch-seed", type=int, default=1)
parser.add_argument("--tracking-uri", default=None)
args = parser.parse_args()


def mlp(n_in: int, n_out: int, activation: type[nn.Module], **kwargs) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, 128), activation(**kwargs),
        nn.Linear(128, 128), activation(**kwargs),
        nn.Linear(128, n_out),
    )  # fmt: skip


torch.manual_seed(args.init_seed)
G = mlp(2, 2, nn.ReLU)  # latent 2 -> a point in the plane
D = mlp(2, 1, nn.LeakyReLU, negative_slope=0.2)  # a point -> one raw score
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
batches = torch.Generator().manual_seed(args.batch_seed)

with ganlab.Watch(  # ganlab
    G, D, latent_dim=2, data="ring8", loss="ns", epochs=args.epochs,  # ganlab
    tracking_uri=args.tracking_uri, run_name="own-loop-ring8",  # ganlab
) as watch:  # ganlab  # fmt: skip
    ring = watch.data  # ganlab: eight Gaussians on a circle of radius 2
    for epoch in range(1, args.epochs + 1):
        for _ in range(args.steps):
            real = ring.sample(args.batch, batches)
            with torch.no_grad():
                fake = G(torch.randn(args.batch, 2, generator=batches))
            l_real, l_fake = D(real), D(fake)
            loss_d = F.softplus(-l_real).mean() + F.softplus(l_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            watch.d_step(l_real, l_fake, loss_d)  # ganlab
            opt_d.step()

            loss_g = F.softplus(-D(G(torch.randn(args.batch, 2, generator=batches)))).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            watch.g_step(loss_g)  # ganlab
            opt_g.step()
        report = watch.end_epoch(epoch)  # ganlab
        print(f"epoch {epoch}: {report.phase}, hq {report.metrics['quality/hq_fraction']:.2f}")
