"""Spoken digits: WAV IO, resampling, spectrograms and Griffin-Lim (gankit.audio); the espeak-ng data set
(gankit.data.speech); SpecGAN end to end (train, sample to WAV, evaluate, doctor); the shipped classifier."""

import json
import math
import subprocess
import sys
import wave

import numpy as np
import pytest
import torch

from gankit import audio
from gankit.data import load_dataset
from gankit.data import speech
from gankit.errors import ConfigError, DataError
from helpers import refused

needs_espeak = pytest.mark.skipif(speech.espeak_path() is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng): it renders the data")


def _tone(freq, seconds=1.0, rate=audio.SAMPLE_RATE, amp=0.5):
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    return (amp * torch.sin(2 * math.pi * freq * t)).float()


def _harmonic_clip(f0=150.0):
    """A voiced-speech-like clip: harmonics of f0 under a rising-falling envelope, silence around it."""
    t = torch.arange(audio.CLIP_SAMPLES, dtype=torch.float64) / audio.SAMPLE_RATE
    env = torch.exp(-((t - 0.5) / 0.15) ** 2)
    x = sum(torch.sin(2 * math.pi * k * f0 * (1 + 0.3 * t) * t) / k for k in range(1, 12))
    return (env * x / 3).float()


# ---------------------------------------------------------------------------------------------------- WAV files
def test_wav_round_trip_at_16_bit_precision(tmp_path):
    x = _tone(440.0) * 1.9  # clipped to [-1, 1] on write
    path = audio.write_wav(tmp_path / "a.wav", x)
    y, rate = audio.read_wav(path)
    assert rate == audio.SAMPLE_RATE and y.shape == (audio.CLIP_SAMPLES,)
    assert torch.allclose(y, x.clamp(-1, 1), atol=1.5 / 32768)


@pytest.mark.parametrize("case", ["rate", "8bit", "garbage", "missing"])
def test_bad_wav_files_are_one_line_errors(tmp_path, case):
    path = tmp_path / "bad.wav"
    if case in ("rate", "8bit"):
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2 if case == "rate" else 1)
            w.setframerate(16000 if case == "rate" else 8000)
            w.writeframes(b"\x00\x00" * 100)
    elif case == "garbage":
        path.write_bytes(b"not a wav file at all")
    with pytest.raises(DataError) as e:
        audio.read_wav(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    assert {"rate": "16000 Hz", "8bit": "8-bit", "garbage": "not a PCM WAV", "missing": "cannot read"}[case] in msg


def test_stereo_wav_is_averaged_to_mono(tmp_path):
    path = tmp_path / "st.wav"
    left, right = np.full(50, 1000, "<i2"), np.full(50, 3000, "<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(np.stack([left, right], 1).tobytes())
    y, _ = audio.read_wav(path)
    assert y.shape == (50,) and torch.allclose(y, torch.full((50,), 2000 / 32768))


# ---------------------------------------------------------------------------------------------------- signals
def test_resampling_keeps_a_tones_frequency_and_amplitude():
    x = _tone(440.0, rate=22050)
    y = audio.resample(x, 22050, 8000)
    assert y.shape == (8000,)
    spec = torch.fft.rfft(y.double()).abs()
    assert int(spec.argmax()) == 440  # 1 Hz per bin over one second
    assert abs(float(y.abs().max()) - 0.5) < 0.01


def test_resampling_removes_what_the_new_rate_cannot_hold():
    y = audio.resample(_tone(6000.0, rate=22050), 22050, 8000)  # above the new Nyquist (4 kHz)
    assert float(y.abs().max()) < 1e-6


def test_fit_clip_trims_centres_and_normalises():
    x = torch.cat([torch.zeros(3000), _tone(300.0, seconds=0.25), torch.zeros(9000)])
    y = audio.fit_clip(x)
    assert y.shape == (audio.CLIP_SAMPLES,) and abs(float(y.abs().max()) - 0.95) < 1e-6
    loud = torch.nonzero(y.abs() > 0.02).view(-1)
    centre = (int(loud[0]) + int(loud[-1])) / 2
    assert abs(centre - audio.CLIP_SAMPLES / 2) < 10
    assert torch.equal(audio.fit_clip(torch.zeros(100)), torch.zeros(audio.CLIP_SAMPLES))
    assert audio.fit_clip(_tone(300.0, seconds=3.0)).shape == (audio.CLIP_SAMPLES,)  # a long one is cut


# ---------------------------------------------------------------------------------------------------- spectrograms
def test_mel_filters_cover_every_band_with_unit_area():
    fb = audio.mel_filterbank()
    assert fb.shape == (audio.N_MELS, audio.N_FFT // 2 + 1)
    assert bool((fb.sum(1) > 0).all()), "an empty mel band"
    hz_per_bin = audio.SAMPLE_RATE / audio.N_FFT
    area = fb.sum(1) * hz_per_bin  # Slaney's normalisation: each triangle has area 1 in Hz
    assert torch.allclose(area[4:], torch.ones(audio.N_MELS - 4), atol=0.1)


def test_a_tone_lights_the_mel_band_of_its_frequency():
    img = audio.waves_to_images(_tone(1000.0)[None])
    assert img.shape == (1, 1, audio.N_MELS, audio.FRAMES) and float(img.min()) >= -1 and float(img.max()) <= 1
    band = audio.N_MELS - 1 - int(img[0, 0, :, 32].argmax())  # images have low bands in the last rows
    centres = audio.mel_filterbank().argmax(1).float() * audio.SAMPLE_RATE / audio.N_FFT
    assert abs(float(centres[band]) - 1000.0) < 80.0
    silent = audio.waves_to_images(torch.zeros(1, audio.CLIP_SAMPLES))
    assert torch.equal(silent, torch.full_like(silent, -1.0))


def test_images_to_mel_inverts_the_db_mapping():
    x = _harmonic_clip()[None]
    fb = audio.mel_filterbank()
    mel = fb @ audio.stft(x).abs()
    back = audio.images_to_mel(audio.waves_to_images(x))
    inside = (mel > audio.AMIN * 1.01) & (mel < 0.99)  # where the dB range does not clip
    assert torch.allclose(back[inside], mel[inside], rtol=1e-3)


def test_mel_inversion_fits_better_than_its_pseudo_inverse_start():
    mag = audio.stft(_harmonic_clip()[None]).abs()
    fb, pinv = audio._filterbank(audio.SPEC)
    mel = fb @ mag
    start = (pinv @ mel).clamp(min=0)
    lin = audio.mel_to_linear(mel)
    assert bool((lin >= 0).all())
    assert float((fb @ lin - mel).norm()) < float((fb @ start - mel).norm())


def test_griffin_lim_recovers_a_signal_from_its_magnitudes():
    x = _harmonic_clip()[None]
    mag = audio.stft(x).abs()

    def inconsistency(y):
        return float((audio.stft(y).abs() - mag).norm() / mag.norm())

    random_phase = audio.griffin_lim(mag, iters=0)
    rebuilt = audio.griffin_lim(mag, iters=48)
    assert inconsistency(rebuilt) < 0.2 < inconsistency(random_phase)
    again = audio.griffin_lim(mag, iters=48)
    assert torch.equal(rebuilt, again)  # seeded


def test_images_to_waves_shapes_and_levels():
    imgs = audio.waves_to_images(torch.stack([_harmonic_clip(120.0), _harmonic_clip(220.0)]))
    waves = audio.images_to_waves(imgs, iters=16)
    assert waves.shape == (2, audio.CLIP_SAMPLES)
    assert torch.allclose(waves.abs().amax(1), torch.full((2,), 0.95), atol=1e-4)
    heard = audio.waves_to_images(waves)
    assert float((heard - imgs).abs().mean()) < 0.1
    with pytest.raises(ValueError):
        audio.images_to_waves(torch.zeros(1, 1, 28, 28))


# ---------------------------------------------------------------------------------------------------- data set
def test_split_voices_are_disjoint_and_draws_seeded():
    train, test = speech.draw_voices(speech.RECIPES["train"]), speech.draw_voices(speech.RECIPES["test"])
    variant = lambda v: v.split("+")[1]  # noqa: E731
    assert not {variant(c[1]) for c in train} & {variant(c[1]) for c in test}
    assert len(train) == 3000 and len(test) == 1500
    assert [c[0] for c in train[:20]] == list(range(10)) * 2
    assert train == speech.draw_voices(speech.RECIPES["train"])
    r = speech.RECIPES["train"]
    assert all(r.speed[0] <= c[2] <= r.speed[1] and r.pitch[0] <= c[3] <= r.pitch[1] for c in train)


@needs_espeak
def test_a_handful_of_renderings_load_as_spectrogram_images(tmp_path):
    path = speech.make_split("train", tmp_path, per_digit=1)
    assert path == tmp_path / "spoken_digits" / "train.npz"
    waves, labels, meta = speech.read_split(path)
    assert waves.shape == (10, audio.CLIP_SAMPLES) and labels.tolist() == list(range(10))
    assert meta["recipe"]["variants"] == list(speech.RECIPES["train"].variants) and meta["espeak_ng"]
    peaks = np.abs(waves).max(1) / 32767
    assert np.allclose(peaks, 0.95, atol=1e-3)
    data = load_dataset("spoken-digits", data_dir=tmp_path)
    assert data.sample_shape == (1, 64, 64) and data.num_classes == 10 and data.class_names[7] == "seven"
    assert float(data.x.min()) >= -1 and float(data.x.max()) <= 1 and float(data.x.std()) > 0.1
    again = speech.make_split("train", tmp_path / "again", per_digit=1)
    assert np.array_equal(speech.read_split(again)[0], waves)  # the renderings are reproducible


def test_missing_data_without_espeak_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(speech, "espeak_path", lambda: None)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError) as e:
        load_dataset("spoken-digits", data_dir=tmp_path)
    assert "espeak-ng" in str(e.value) and "\n" not in str(e.value)


def test_damaged_cache_and_image_options_are_refused(tmp_path):
    (tmp_path / "spoken_digits").mkdir()
    (tmp_path / "spoken_digits" / "train.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a spoken-digits file"):
        load_dataset("spoken-digits", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="image-size"):
        load_dataset("spoken-digits", data_dir=tmp_path, image_size=28)


def test_make_command_refuses_a_file_as_folder(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    assert speech.main(["--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err


# ---------------------------------------------------------------------------------------------------- classifier
def test_shipped_classifier_is_small_and_accurate_on_unheard_voices():
    from gankit.evaluation.speech import load_speech_classifier

    net = load_speech_classifier()
    assert net.path.stat().st_size < 1_000_000
    assert net.accuracy is not None and net.accuracy > 0.8
    feats, probs = net.embed(torch.zeros(3, 1, 64, 64))
    assert feats.shape == (3, 128) and torch.allclose(probs.sum(1), torch.ones(3))
    with pytest.raises(ConfigError):
        net.embed(torch.zeros(3, 1, 28, 28))


def test_classify_command_refuses_a_wav_at_another_rate(tmp_path, capsys):
    from gankit.evaluation import speech as es

    path = tmp_path / "cd.wav"
    audio.write_wav(path, _tone(440.0, rate=44100), rate=44100)
    assert es.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "44100 Hz" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------------- SpecGAN
def test_specgan_refuses_image_data_and_spoken_digits_refuse_image_options(capsys, tmp_path):
    refused(capsys, ["train", "--method", "specgan", "--dataset", "mnist5k", "--steps", "1", "--out",
                     str(tmp_path / "a")], "specgan", "spoken-digits")
    refused(capsys, ["train", "--dataset", "spoken-digits", "--image-size", "32", "--steps", "1", "--out",
                     str(tmp_path / "b")], "--image-size")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A conditional SpecGAN trained 10 steps (narrow nets) on 4 renderings of each digit."""
    if speech.espeak_path() is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): it renders the data")
    import gankit

    root = tmp_path_factory.mktemp("speech")
    speech.make_split("train", root / "data", per_digit=4)
    run = root / "run"
    gankit.train(gankit.TrainConfig(method="specgan", dataset="spoken-digits", data_dir=str(root / "data"),
                                    conditional=True, width=8, d_width=8, steps=10, log_every=5, sample_every=10,
                                    progress=False, out=str(run)))
    return run


@needs_espeak
@pytest.mark.slow
def test_specgan_samples_are_wav_files_and_spectrogram_figures(small_run, tmp_path, capsys):
    from gankit.cli import main

    out = tmp_path / "heard"
    assert main(["sample", str(small_run), "--n", "4", "--seed", "1", "--out", str(out) + "/"]) == 0
    wavs = sorted(out.glob("*.wav"))
    assert [p.name for p in wavs] == [f"sample_{i:05d}_{i}.wav" for i in range(4)]
    for p in wavs:
        x, rate = audio.read_wav(p)
        assert rate == 8000 and x.shape == (8000,) and 0.9 < float(x.abs().max()) <= 0.951
    assert (out / "spectrograms.png").is_file() and (out / "spectrograms_figure.png").is_file()
    assert (small_run / "samples" / "step_0000010.png").is_file()
    assert main(["sample", str(small_run), "--n", "2", "--class", "7", "--out", str(tmp_path / "sevens")]) == 0
    assert sorted(p.name for p in (tmp_path / "sevens").glob("*.wav")) == ["sample_00000_7.wav", "sample_00001_7.wav"]
    refused(capsys, ["sample", str(small_run), "--out-dir", str(tmp_path / "x")], "--out-dir", "audio run")
    (tmp_path / "file").write_text("x")
    refused(capsys, ["sample", str(small_run), "--out", str(tmp_path / "file")], "is a file")
    for flags, names in ((["--truncation", "0.7"], ("--truncation", "styles")), (["--mix"], ("--mix", "styles")),
                         (["--text", "a two"], ("--text",)), (["--length", "3"], ("--length",))):
        refused(capsys, ["sample", str(small_run), *flags, "--out", str(tmp_path / "refused")], *names)
    assert not (tmp_path / "refused").exists()


@needs_espeak
@pytest.mark.slow
def test_specgan_resume_continues_bit_identically(tmp_path):
    """6 steps straight == 3 steps, then resumed to 6: G, D, the EMA copy, optimizer states and RNG."""
    import gankit
    from gankit import checkpoint as ckpt

    speech.make_split("train", tmp_path / "data", per_digit=4)

    def cfg(out, steps):
        return gankit.TrainConfig(method="specgan", dataset="spoken-digits", data_dir=str(tmp_path / "data"),
                                  conditional=True, width=8, d_width=8, steps=steps, ckpt_every=3, log_every=3,
                                  sample_every=100, progress=False, seed=5, out=str(out))

    full = gankit.train(cfg(tmp_path / "a", 6))
    gankit.train(cfg(tmp_path / "b", 3))
    part = gankit.resume(tmp_path / "b", steps=6)
    a, b = ckpt.load(ckpt.resolve(full.out))[0], ckpt.load(ckpt.resolve(part.out))[0]
    assert set(a) == set(b) and any(k.startswith("G_ema/") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k


@needs_espeak
@pytest.mark.slow
def test_specgan_evaluate_and_doctor(small_run, tmp_path):
    js = tmp_path / "s.json"
    r = subprocess.run([sys.executable, "-m", "gankit", "evaluate", str(small_run), "--n", "20", "--json", str(js),
                        "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads(js.read_text())
    for key in ("fid", "fid_real_vs_real", "fid_real_griffin_lim", "label_accuracy", "accuracy_real",
                "accuracy_real_griffin_lim", "class_histogram"):
        assert key in s, key
    assert 0 <= s["label_accuracy"] <= 1 and s["fid"] >= 0 and s["protocol"]["n_generated"] == 20
    assert s["protocol"]["feature_net_file"] == "spoken-digits.safetensors"
    r = subprocess.run([sys.executable, "-m", "gankit", "doctor", str(small_run)], capture_output=True, text=True)
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr
