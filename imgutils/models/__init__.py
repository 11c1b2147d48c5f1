"""Models of the book. ``classifier``: the chapter-01 Fashion-MNIST CNN (also the feature
network of the generation metrics).
``vae``: chapter-03 conv VAE (encoder/decoder builders, the source text's 32x32x3 pair
corrected, ``VAE`` with KL warm-up, ELBO / IWAE bounds, active units).
``restoration``: chapter-04 DnCNN / U-Net / super-resolution restorers (and the stochastic
U-Nets of chapter 05). ``pix2pix``: chapter-05 PatchGAN critic, ``Pix2Pix`` conditional GAN,
posterior sampling helpers. ``autoencoder``: chapter-06 plain, denoising and skip autoencoders,
the noisy ``Channel`` layer, the denoising VAE. ``score``: Tweedie's formula (closed-form
Gaussian-mixture scores), the noise-conditional denoiser and annealed Langevin sampling.
``diffusion``: chapter-07 noise schedules, the diffusion U-Net, ``Diffusion`` (EMA,
classifier-free guidance) and the DDPM / DDIM ``sample``."""
