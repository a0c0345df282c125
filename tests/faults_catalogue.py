"""Every fault and bad input aelab is tested against: what the user sees, what is kept, which test proves it.

docs/RELIABILITY.md is generated from this list (`python scripts/reliability.py`), and
tests/test_reliability_doc.py fails if the page drifts from it or names a test that does not exist.
"""

FAULTS = [
    # (fault or bad input, what the user sees, what is kept, proving test)
    (
        "training process killed (SIGKILL) mid-epoch",
        "nothing (the process is gone)",
        "the checkpoint of the last finished epoch, whole; `--resume` ends bit-identical to an uninterrupted run",
        "test_resume.py::test_sigkill_mid_run_then_resume_is_bit_identical",
    ),
    (
        "Ctrl-C / SIGTERM during training",
        "`interrupted at epoch E, step S of N; checkpoint saved …: continue with the same "
        "command and --resume`, exit 130",
        "a checkpoint taken right after the step in progress (a compiled step: its run of at most 50 steps, tens of "
        "milliseconds); resume is bit-identical",
        "test_resume.py::test_sigint_finishes_step_saves_and_resume_is_bit_identical",
    ),
    (
        "a second Ctrl-C while the first is being handled",
        "`aelab: interrupted`, exit 130, at once",
        "the previous checkpoint (or the one just completed), whole; no temporary file",
        "test_resume.py::test_second_ctrl_c_quits_at_once_and_keeps_the_previous_checkpoint",
    ),
    (
        "a sweep interrupted (SIGTERM) and resumed",
        "`interrupted at epoch …: continue with the same command and --resume`, exit 130",
        "the sweep's checkpoint; the resumed sweep's losses equal an uninterrupted sweep's",
        "test_resume.py::test_sweep_interrupted_then_resumed_matches_uninterrupted",
    ),
    (
        "Ctrl-C during `aelab reproduce` while two steps train in parallel",
        "`interrupted: the running steps saved their checkpoints; run the same command again …`, exit 130",
        "each running step's checkpoint and every finished step; the same command then completes the study",
        "test_reproduce.py::test_ctrl_c_stops_a_parallel_reproduction_and_the_next_run_finishes_it",
    ),
    (
        "one step of a parallel `aelab reproduce` fails",
        "that step's one-line error and exit code",
        "the other running step stops after its current step with its checkpoint; no new step starts",
        "test_reproduce.py::test_a_failing_step_stops_the_others_after_their_step",
    ),
    (
        "no C compiler when aelab was installed, or AELAB_NATIVE=0 (compiled kernels)",
        "a one-line warning; training continues with the autograd step, and config.json's `engine` records "
        "the fallback and its reason",
        "nothing: the kernels are built at install time, nothing is cached at run time",
        "test_native.py::test_disabled_or_unbuildable_kernels_fall_back_with_a_warning",
    ),
    (
        "loss becomes NaN/inf (too high a learning rate, bad data)",
        "`epoch E, step S: training loss became nan: expected a finite loss (…); the last good checkpoint (end of "
        "epoch E−1) is kept`, exit 7",
        "the last good checkpoint; no finished marker",
        "test_resume.py::test_divergence_stops_and_keeps_the_last_good_checkpoint",
    ),
    (
        "NaN in the training data",
        "`epoch 1, step S: training loss became nan …`, exit 7",
        "nothing new",
        "test_trainer.py::test_non_finite_loss_stops_with_epoch_named",
    ),
    (
        "`--resume` with other options than the interrupted run",
        "`…checkpoint.safetensors: saved for another configuration: code_size=32 (asked for 16)`, exit 5",
        "the checkpoint, untouched",
        "test_resume.py::test_resume_refuses_another_configuration",
    ),
    (
        "`--resume` where no checkpoint exists",
        "`…: no checkpoint: expected one written by an interrupted or running aelab run`, exit 5",
        "nothing written",
        "test_resume.py::test_resume_without_checkpoint_is_refused",
    ),
    (
        "truncated, bit-flipped or random checkpoint file",
        "`…: corrupt or not an aelab file: …` or `…: corrupt: its contents do not match the SHA-256 …`, exit 5",
        "the file as it is",
        "test_faults.py::test_fuzzed_checkpoints_are_refused_cleanly",
    ),
    (
        "checkpoint header claiming 10¹² bytes",
        "`…: corrupt or not an aelab file: …`, exit 5, nothing allocated",
        "the file as it is",
        "test_faults.py::test_huge_header_claim_in_checkpoint_is_refused",
    ),
    (
        "bit flip in model.safetensors",
        "`…: corrupt: its contents do not match the SHA-256 …`",
        "the file as it is",
        "test_faults.py::test_weights_file_bit_flip_detected",
    ),
    (
        "disk full while writing any file",
        "`…: write failed: No space left on device`, exit 6",
        "the previous version of the file; no temporary file",
        "test_faults.py::test_full_disk_leaves_the_old_file_and_no_temporary",
    ),
    (
        "disk full during a training run",
        "`…: write failed: No space left on device`, exit 6",
        "no half-written files",
        "test_faults.py::test_full_disk_during_a_run_exits_6",
    ),
    (
        "two processes writing into one `--out` at once (train, sweep or reproduce)",
        "the second: `…: in use by another aelab run (PID P on HOST, since T): wait for it to end, or "
        "choose another --out`, exit 6",
        "the first run's folder, untouched by the second",
        "test_run_folder.py::test_two_real_training_processes_one_refused_then_the_stale_lock_taken_over",
    ),
    (
        "a lock left by a killed run (same host, PID gone)",
        "`…: taking over the lock of an aelab run that no longer runs (PID P on HOST, since T)`; the run goes on",
        "the folder; the stale lock is replaced, and removed when the run ends",
        "test_run_folder.py::test_a_stale_lock_from_a_killed_process_is_taken_over",
    ),
    (
        "a lock recorded by a run on another machine",
        "`…: locked by an aelab run on another machine (PID P on HOST, since T): if none runs there now, "
        "delete …/aelab.lock`, exit 6",
        "the folder and the lock file, untouched",
        "test_run_folder.py::test_a_lock_recorded_on_another_machine_is_refused_with_the_file_to_delete",
    ),
    (
        "a new `train` or `sweep` into a folder holding a finished run",
        "`…: holds a finished run: pass --force to replace it, or choose another --out`, exit 6",
        "the finished run, byte for byte",
        "test_run_folder.py::test_a_finished_run_is_not_overwritten_without_force",
    ),
    (
        "a new `train` into a folder holding an interrupted run",
        "`…: holds an interrupted run (checkpoint.safetensors): pass --resume to continue it or "
        "--force to start again`, exit 6",
        "the checkpoint and every file, byte for byte",
        "test_run_folder.py::test_an_interrupted_run_is_not_restarted_without_resume_or_force",
    ),
    (
        "disk full while writing `model.safetensors` or `checkpoint.safetensors`",
        "`…checkpoint.safetensors: write failed: No space left on device`, exit 6",
        "the previous file; no temporary file, no finished marker",
        "test_run_folder.py::test_full_disk_during_a_checkpoint_write_exits_6_with_one_line",
    ),
    (
        "a really full disk (a 96 KiB tmpfs) during a run",
        "`…: write failed: No space left on device`, exit 6",
        "no half-written file, no temporary file",
        "test_run_folder.py::test_a_really_full_disk_during_a_run_exits_6_with_nothing_half_written",
    ),
    (
        "a kill during a large checkpoint write",
        "the next run in that folder: `…: removed 1 temporary file(s) left by an interrupted write`",
        "the files that were complete; the hidden temporary file is removed",
        "test_run_folder.py::test_temporaries_left_by_a_kill_mid_write_are_removed_by_the_next_run",
    ),
    (
        "a code size below 16 with no `--n-weights` (`aelab train --code-size 8`)",
        "the run trains; `weights.png` shows every unit (8)",
        "—",
        "test_option_errors.py::test_figure_defaults_follow_the_code_size",
    ),
    (
        "a restrictive umask (027) while weights and checkpoints are written",
        "every output, `.safetensors` included, is 0640 as the umask asks; reading the umask never sets it (no "
        "race with worker threads)",
        "—",
        "test_run_folder.py::test_every_output_including_safetensors_follows_the_umask",
    ),
    (
        "a negative learning rate in any notation (`--learning-rate -1e-3`)",
        "`--learning-rate -0.001: expected a number in (0, 10)`, exit 2",
        "nothing written",
        "test_option_errors.py::test_a_negative_learning_rate_in_any_notation_reaches_the_validator",
    ),
    (
        "`--l1` out of range (negative or ≥ 1000)",
        "`--l1 -1.0: expected a number in [0, 1000)`, exit 2",
        "nothing written",
        "test_option_errors.py::test_the_l1_error_states_its_real_range",
    ),
    (
        "`aelab reproduce --workers 0`",
        "`--workers 0: expected at least 1`, exit 2",
        "nothing written (no folder created)",
        "test_option_errors.py::test_reproduce_with_no_workers_is_refused_before_anything_is_written",
    ),
    (
        "a data folder missing one of the four files",
        "`data set … not found (looked in: --data-dir …/tiny (incomplete: no t10k-labels-idx1-ubyte); …)`, exit 4",
        "nothing written",
        "test_option_errors.py::test_an_incomplete_data_folder_names_the_missing_file",
    ),
    (
        "no data found with `AELAB_OFFLINE=1`",
        "`data set … not found (looked in: …) and downloads are turned off (AELAB_OFFLINE=1; unset it to download from "
        "the mirrors): …`, exit 4",
        "nothing written",
        "test_option_errors.py::test_offline_the_no_data_error_says_downloads_are_off",
    ),
    (
        "output folder not writable",
        "`…: not writable: expected a folder aelab may write into`, exit 6",
        "nothing written",
        "test_faults.py::test_unwritable_output_folder",
    ),
    (
        "output path is a file",
        "`…: is a file: expected a folder (or nothing) for the run's output`, exit 6",
        "the file, untouched",
        "test_cli.py::test_output_path_that_is_a_file_is_refused",
    ),
    (
        "code size, epochs, batch size, learning rate or image count ≤ 0",
        "`--code-size 0: expected a whole number ≥ 1` (and the like), exit 2",
        "nothing written",
        "test_cli.py::test_bad_options_are_one_line_errors",
    ),
    (
        "negative or too large noise factor, negative L1, non-numeric option, batch larger than the data",
        "one line naming the option and the range expected, exit 2",
        "nothing written",
        "test_faults.py::test_more_bad_options",
    ),
    (
        "unknown model or data set name",
        "`unknown model 'shalow' (did you mean 'shallow'?)`, exit 2",
        "nothing written",
        "test_cli.py::test_bad_options_are_one_line_errors",
    ),
    (
        "more weight images than units",
        "`--n-weights 33: expected at most 32 (units in the first layer)`, exit 2",
        "nothing written",
        "test_cli.py::test_too_many_weights_or_images_refused_before_training",
    ),
    (
        "truncated, wrong-magic, bad-dtype or inconsistent IDX file",
        "`<file>: truncated IDX header …` / `bad IDX magic …` / `IDX file truncated: expected N bytes …`, exit 3",
        "nothing cached",
        "test_idx.py::test_bad_payloads_are_refused_with_one_line",
    ),
    (
        "IDX header claiming 8·10¹² bytes",
        "`…: IDX header claims 8e+12 bytes of data: expected at most 4.29e+09`, nothing allocated",
        "nothing cached",
        "test_idx.py::test_huge_claim_is_refused_before_allocation",
    ),
    (
        "random, truncated or bit-flipped IDX bytes",
        "a one-line DataError, never a crash",
        "nothing cached",
        "test_faults.py::test_fuzzed_idx_files_raise_data_error",
    ),
    (
        "truncated gzip stream, missing file",
        "`…: corrupt or truncated gzip stream` / `…: file not found`, exit 3",
        "nothing cached",
        "test_idx.py::test_truncated_gzip_and_missing_file",
    ),
    (
        "data file that fails its SHA-256",
        "`…t10k-labels-idx1-ubyte.gz: SHA-256 mismatch: expected …, got …`, exit 3",
        "nothing in the cache",
        "test_data_load.py::test_digest_mismatch_names_file_and_leaves_no_cache",
    ),
    (
        "images of the wrong size",
        "`… shapes … expected (64, 28, 28)`, exit 3",
        "nothing in the cache",
        "test_data_load.py::test_wrong_image_size_is_refused",
    ),
    (
        "data set found nowhere, offline",
        "`data set 'fashion-mnist' not found (looked in: …): put the four IDX files … and pass --data-dir DIR or set "
        "AELAB_DATA_DIR=DIR`, exit 4",
        "no run folder created",
        "test_cli.py::test_missing_data_exits_4_with_guidance",
    ),
    (
        "a mirror serving wrong bytes",
        "the next mirror is tried; if none verifies, exit 4 naming each mirror's failure",
        "nothing in the cache",
        "test_data_load.py::test_download_failure_leaves_nothing",
    ),
    (
        "a file graded by `gradcheck --impl` with a syntax error, an exception (at import or in `gradients`), a hard "
        "crash, `sys.exit()`, no `gradients`, a wrong shape or NaN",
        "one line naming the file and, where the fault is in it, the line (`my.py:6: IndexError: …`); that "
        "file's row says error, exit 1",
        "the other files of the batch, graded",
        "test_grader.py::test_broken_files_each_give_one_line_naming_file_and_line_and_the_others_are_still_graded",
    ),
    (
        "a student file named like a module (`numpy.py`, `json.py`, `math.py`) in the folder being graded, which is "
        "also the working folder",
        "every correct file still passes; that file is graded as the others are, its code run only for its own grade",
        "nothing written; the child runs isolated (`python -I`, aelab's folder first, the file's own folder last)",
        "test_grader.py::test_a_file_named_like_a_module_in_the_submissions_shadows_nothing",
    ),
    (
        "a file graded by `gradcheck --impl` that never returns",
        "`my.py:3: did not finish within 20 s …` (the line it was stuck on) after `--timeout` seconds; its "
        "child process is stopped",
        "the other files of the batch, graded",
        "test_grader.py::test_broken_files_each_give_one_line_naming_file_and_line_and_the_others_are_still_graded",
    ),
    (
        "a file graded by `gradcheck --impl` that starts processes of its own (`subprocess.Popen(['sleep', '1000'])` "
        "at import, a shell's `sleep 1000 &`), then returns or hangs",
        "its grade, as if it had started nothing",
        "nothing running: when the file's child process ends, normally or at its time-out, its whole process group "
        "is killed (a process that calls `setsid` leaves the group: the grader is no security sandbox)",
        "test_grader_trust.py::test_processes_a_submission_starts_die_with_its_grading",
    ),
    (
        "Ctrl-C or SIGTERM during `aelab gradcheck --impl`",
        "`aelab: interrupted: 2 of 2 file(s) not graded (SIGINT; no grades printed)`, exit 130 (143 for SIGTERM), "
        "no traceback",
        "nothing: every child's process group is killed and every temporary folder (`aelab-grade-*`) removed",
        "test_grader_trust.py::test_a_signal_kills_every_child_and_leaves_one_line_and_no_temporary_folder",
    ),
    (
        "a file graded by `gradcheck --impl` that writes 50 MB to stderr, then exits 1",
        "`my.py: the process exited with code 1 before gradients returned (the last words; the last line of 52.4 MB "
        "on stderr)`",
        "the grader's memory: the child's stderr goes to a temporary file, of which only the last 64 KiB is read "
        "(the grader's peak memory grows by less than 8 MiB)",
        "test_grader_trust.py::test_a_submission_flooding_stderr_is_graded_from_its_last_line_without_holding_it",
    ),
    (
        "the same seed twice",
        "identical metrics (weights, batch order and noise all come from seeded generators)",
        "—",
        "test_resume.py::test_same_seed_same_metrics_twice",
    ),
    (
        "a bad study file (unknown key, wrong type, empty grid, unknown model or data set, TOML syntax)",
        "`study.toml:10: steps[1] code_size: empty list: expected one value, or a grid of one or more values` (a close "
        "match suggested for a misspelt name), exit 2",
        "nothing written: the whole study is checked before its folder is made",
        "test_run_study.py::test_a_bad_study_writes_nothing_and_exits_2",
    ),
    (
        "`aelab run STUDY` again after an interruption",
        "`already done, skipped` for finished cells",
        "every finished cell; an interrupted one continues from its checkpoint",
        "test_run_study.py::test_a_study_runs_reports_skips_what_is_done_and_resumes_what_is_not",
    ),
    # hostile study files: one line, exit 2, nothing written; the dry run refuses what the run refuses
    (
        "a study file nested 3,000 deep (`a = [[[[…]]]]`, inline tables inside inline tables), or deeper than 16 "
        "levels anywhere",
        "`study.toml:1: nested 3,000 levels deep: expected at most 16` (was a 3,000-line RecursionError), exit 2",
        "nothing written",
        "test_study_trust.py::test_deep_nesting_is_one_line_not_a_traceback",
    ),
    (
        "`aelab run STUDY --dry-run` on what the run refuses: a training or test subset larger than the data set, "
        "an anomaly class it lacks, a model of 10¹² parameters, a conv `image_size` not divisible by 4, a step name "
        "or grid value the file system refuses as a folder name (256 bytes, a `/`), `reproduce.json` as a step name",
        "the same line from the dry run as from the run (one `preflight` for both), e.g. `study.toml:5: steps[1] "
        "train_size: 65: expected at most 64 (the training set of tiny)`, exit 2 (the run used to refuse it after "
        "making the study's folder, or crash)",
        "nothing written by either",
        "test_study_trust.py::test_the_dry_run_refuses_what_the_run_refuses",
    ),
    (
        "`aelab run --out` with a NUL, a 256-byte name, a 5,000-byte path, or under a file; two `--datasets` paths "
        "ending in the same name",
        "`--out '…': 'nnn…': a name of 256 bytes: expected names of at most 255 bytes …`, exit 2 (under a file: "
        "`… is a file: expected a folder path for the run's output`, exit 6), from the dry run and the run alike",
        "nothing written; the file in the way untouched",
        "test_study_trust.py::test_an_output_folder_the_file_system_refuses_is_refused_by_both",
    ),
    (
        "a grid of 10⁶ cells (three settings of 100 values), or 12,000 cells over two steps or two `--datasets`",
        "`steps[1]: a grid of 1,000,000 cells (100 code_size × 100 seed × 100 learning_rate): expected at most "
        "10,000 per study (…)`, exit 2, before a single cell is made (was: a million lines printed, or planned)",
        "nothing written",
        "test_study_trust.py::test_a_grid_beyond_the_limit_is_one_line_with_its_product",
    ),
    (
        "`--dry-run` of a plan of hundreds of run folders, or of a batched grid of thousands of cells",
        "the first 20 run folders (a batched one with its first 8 cells), `… and N more runs (M cells)`, and the "
        "totals in the first and last lines",
        "nothing written",
        "test_study_trust.py::test_a_long_dry_run_lists_its_first_runs_and_counts_the_rest",
    ),
    (
        "hostile values in a study: `code_size = 10**400`, `epochs = 10**31`, `learning_rate = nan` or `-inf`, a "
        "100,000-character data set name, a NUL in a path, a non-ASCII step name, bytes that are not UTF-8",
        "one line of at most 1,000 characters, the value cut in the middle (`code_size: 99999…99999: expected a "
        "whole number within TOML's 64 bits`), exit 2 (was an OverflowError or OSError traceback)",
        "nothing written",
        "test_study_trust.py::test_hostile_values_are_one_short_line",
    ),
    (
        "random bytes, random text, or random steps whose settings hold values of any type (fuzzed with hypothesis)",
        "a plan, or one line and exit 2; never a traceback",
        "nothing written",
        "test_study_trust.py::test_any_study_text_is_a_plan_or_one_line_exit_2",
    ),
    # your own data (--dataset PATH, issue 19): one line naming the file (and line, column or index), nothing written
    (
        "`--dataset PATH` with bad data: a missing path, a CSV cell that is not a number, a ragged "
        "CSV, NaN/inf in an array, "
        "an option that does not apply",
        "`beats.csv:3:2: '?' is not a number: …`, `…:2: 1 cells: expected 2, as on line 1 (a ragged "
        "table)`, `x.npy: 1 NaN or infinite value, the first at index (2, 1): …`, exit 3 (2 for an option)",
        "nothing written: the data is read and checked before the run folder is made",
        "test_custom_data_train.py::test_bad_input_is_one_line_a_nonzero_exit_and_nothing_written",
    ),
    (
        "an image folder with a corrupt, truncated or non-image file, mixed sizes, or no images",
        "`…/7/bad.png: corrupt, truncated or not an "
        "image (…)`, `…/zz.png: 12×10 pixels but …/00000.png has 8×8: expected one size (or pass "
        "--image-size H,W to resize)`, "
        "`…: no image files`, exit 3",
        "nothing written",
        "test_custom_data.py::test_a_corrupt_image_is_named",
    ),
    (
        "an `.npy` whose header declares an absurd shape, or any damaged `.npy` or CSV (fuzzed)",
        "`big.npy: the header declares shape "
        "(10000000000000, 3) of float32 (…) but the file holds 48 bytes of data: expected a "
        "complete .npy file`, exit 3",
        "nothing allocated, nothing written",
        "test_custom_data_fuzz.py::test_a_damaged_npy_header_or_body_is_refused",
    ),
    (
        "labels whose count differs from the samples (.npz y_train, IDX labels)",
        "`d.npz[y_train]: 9 labels (shape (9,)) for 10 samples: expected one label per sample, shape (10,)`, exit 3",
        "nothing written",
        "test_custom_data.py::test_label_count_must_match",
    ),
    (
        "a damaged entry in the decoded-image cache",
        "nothing: the entry fails its seal and the folder is decoded afresh",
        "the data folder; the cache entry is replaced",
        "test_custom_data.py::test_the_decoded_cache_is_used_and_verified",
    ),
    (
        "a poisoned decoded-image cache: an entry replaced with other pixels and its digest recomputed, a cache copied "
        "from another user, a cache folder that is a link, another user's or open to others, an entry that is a link",
        "nothing: the cache folder must be the user's alone (0700, not a link; an open one of the user's is made "
        "private), entries are opened without following links and must be the user's, mode 0600, and sealed by "
        "HMAC-SHA256 under a secret key kept in that folder; whatever fails is decoded afresh from the images",
        "the data folder; what is trained on is always the decoding of the folder whose digest config.json records",
        "test_cache_trust.py::test_a_forged_entry_with_its_digest_recomputed_is_never_trained_on",
    ),
    (
        "data that would not fit: an .npz whose entry claims more than it holds, or 64 MiB of zeros in a 65 KB .npz "
        "above the limit; a folder of large PNGs (a few kB each, 16 Mpixel decoded); one image of another size among "
        "small ones; a table above the limit",
        "`bomb.npz[x_train]: shape (4096, 4096) make 64 MiB as float32 rows: expected at most 16 MiB "
        "(AELAB_MAX_DATA_BYTES=16M)`, `…/z.png: 6000×6000 pixels but …/a0.png has 8×8: expected one size …`, exit 3; "
        "the default limit is a quarter of the machine's memory, AELAB_MAX_DATA_BYTES sets another",
        "nothing decompressed, decoded or allocated: sizes come from headers and row counts first; tables stream into "
        "float32 within 3× of their array (tracemalloc); benchmarks/bench_memory.py measures whole processes",
        "test_data_memory.py::test_an_npz_bomb_is_refused_from_its_header_before_anything_is_decompressed",
    ),
    (
        "a FIFO (named pipe), socket or device named like data (`beats.csv`), or a dangling symbolic link, given as "
        "--dataset; a dangling link as --out; a file where a run folder is expected",
        "`beats.csv: is a FIFO (named pipe): expected an image folder, …`, `gone.npy: is a symbolic link to …, which "
        "does not exist: …`, `metrics.json: is a file: expected a run folder …` — never a hang, never \"File exists\" "
        "or \"no such folder\" for what is there",
        "nothing written",
        "test_hostile_paths.py::test_a_fifo_named_like_a_table_is_refused_not_read",
    ),
    (
        "`--resume` into a folder holding a finished run of another configuration (another --model, code size, …)",
        "`…: holds a finished run of another configuration: model='shallow' (asked for 'deep'): expected --resume "
        "with the options it was trained with; …`, exit 5 — that run's metrics are never reported as the result",
        "the finished run, byte for byte",
        "test_hostile_paths.py::test_resume_into_a_finished_run_of_another_model_is_refused_not_reported",
    ),
    (
        "an image folder changed since its decoded cache was made: a file touched, added, removed, renamed, or edited "
        "keeping its size and modification time",
        "nothing: the listing's fingerprint (each file's size, modification and change "
        "times, inode) differs, so the files are read and hashed again",
        "the data folder; a damaged listing record is never trusted",
        "test_decoded_cache.py::test_an_edit_that_keeps_size_and_modification_time_is_noticed_by_the_change_time",
    ),
    (
        "`aelab anomaly --dataset PATH` on data it cannot rank: labels of one class only, a class "
        "with fewer training samples "
        "than a batch or none in the test split, `--classes` or `--seeds 2` on unlabelled data",
        "`d.npz: labels of one class only "
        "(0): expected at least two classes …`, `d.npz: 1 of class 9's training samples: expected at least "
        "16 …`, exit 3 (2 for an "
        "option)",
        "nothing written: every class is checked before the run folder is made",
        "test_anomaly_own_data.py::test_bad_data_is_refused_in_one_line_before_anything_is_written",
    ),
    # issue 27: hostile values and inputs of your own data that used to pass, or to be clamped silently
    (
        "values beyond float32's range in your own data: `1e308` in a CSV, `1e300` in a float64 `.npy`; a test value "
        "that its scaling would overflow (a feature almost constant on the training split); a column named `target`, "
        "`label`, `class` or `y` without `--label-column`",
        "`huge.csv:6:1: '1e308' is beyond float32's range: expected values within float32's range ±3.4e38`, "
        "`big.npy: 1 value beyond float32's range, the first 1e+300 at index (2, 1): …`, `sample 3, feature 0: 1e+09 "
        "scaled by standard (fitted on the training split) becomes 2e+39: …`, `labels.csv: column 'target' looks like "
        "labels: expected --label-column target (or --label-column none to keep it as a feature)`, exit 3; the same "
        "line from `aelab data inspect`, with no raw RuntimeWarning",
        "nothing written: the data is read, checked and scaled before the run folder is made",
        "test_data_seams.py::test_hostile_values_are_one_line_before_anything_is_written",
    ),
    (
        "an image folder of 16-bit grey PNGs (Pillow's mode I;16 or I)",
        "nothing: read at full depth, float32 value / 65535 in [0, 1] (an 8-bit image beside them / 255), recorded as "
        "dtype float32; converted to 8 bits they were clamped (99.6% of the pixels 255)",
        "the data folder; the decoded cache keeps the float32 array (its version bumped: no clamped entry is reused)",
        "test_data_seams.py::test_16_bit_grey_pngs_are_read_at_full_depth_in_unit_range",
    ),
    (
        "`aelab run STUDY` again on your own data (the saved config holds the scale and loss the data resolved, the "
        "study leaves them to the data)",
        "`already done, skipped` for finished cells",
        "every finished cell; an interrupted one continues from its checkpoint",
        "test_data_seams.py::test_a_study_on_your_own_data_skips_what_is_done_and_resumes_what_is_not",
    ),
]
