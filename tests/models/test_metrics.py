import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from spikerain.models.metrics import psnr_rgb, psnr_y, rgb_to_y, ssim_rgb, ssim_y


@pytest.fixture
def pair():
    rng = np.random.default_rng(3)
    clean = rng.random((48, 56, 3)).astype(np.float32)
    noisy = np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    return noisy, clean


def test_y_channel_is_bt601_matlab():
    assert rgb_to_y(np.array([[[1.0, 1.0, 1.0]]]))[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16.0)


def test_y_psnr_and_ssim_match_scikit_image_after_4px_crop(pair):
    a, b = pair
    ya, yb = rgb_to_y(a)[4:-4, 4:-4], rgb_to_y(b)[4:-4, 4:-4]
    assert psnr_y(a, b) == pytest.approx(peak_signal_noise_ratio(yb, ya, data_range=255), abs=1e-10)
    ref = structural_similarity(ya, yb, data_range=255, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert ssim_y(a, b) == pytest.approx(ref, abs=1e-10)


def test_rgb_metrics_are_channel_means_matching_scikit_image(pair):
    a, b = pair
    a8, b8 = a[4:-4, 4:-4].astype(np.float64) * 255, b[4:-4, 4:-4].astype(np.float64) * 255
    ref_psnr = np.mean([peak_signal_noise_ratio(b8[..., c], a8[..., c], data_range=255) for c in range(3)])
    ref_ssim = np.mean([structural_similarity(a8[..., c], b8[..., c], data_range=255, gaussian_weights=True,
                                              sigma=1.5, use_sample_covariance=False) for c in range(3)])
    assert psnr_rgb(a, b) == pytest.approx(ref_psnr, abs=1e-10)
    assert ssim_rgb(a, b) == pytest.approx(ref_ssim, abs=1e-10)


def test_identical_images():
    img = np.full((20, 20, 3), 0.3)
    assert psnr_y(img, img) == float("inf")
    assert ssim_y(img, img) == pytest.approx(1.0)
