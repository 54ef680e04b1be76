package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/parse"
	"github.com/loglet/loglet/sidecar/internal/podinfo"
	"github.com/loglet/loglet/sidecar/internal/sink"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// Sink is where the pipeline hands its batches; see package sink for the
// acknowledgement contract. The pipeline only sends: the sink's own
// background work is started and stopped by its owner (package agent),
// which keeps it running until Run has returned, so that the
// acknowledgements Run waits for at shutdown can still arrive.
type Sink interface {
	// Send hands over a batch, blocking only for backpressure.
	Send(ctx context.Context, b *sink.Batch) error
}

// PodSource gives the current pod identity.
type PodSource interface {
	Pod() *podinfo.Pod
}

// Config is the pipeline's configuration; the sidecar's config package
// fills it from the environment. Patterns and names are already expanded.
type Config struct {
	LogDir             string        // directory to watch
	StateDir           string        // checkpoint directory
	Include, Exclude   string        // file name patterns
	ActiveFile         string        // the name the app writes to; never deleted
	StartAtEnd         bool          // on first start, skip what existing files hold
	PollInterval       time.Duration // discovery and read interval where inotify events do not arrive
	Coalesce           time.Duration // after a write, how long to wait for more before reading
	RotateWait         time.Duration // idle time before a renamed, deleted or rotated file is let go
	MultilineTimeout   time.Duration // idle time before a held-back multi-line record is sent
	CheckpointInterval time.Duration // longest wait of a changed checkpoint state to be saved (see saveWait)
	ShutdownTimeout    time.Duration // how long shutdown waits for acknowledgements
	MaxLineBytes       int           // longer lines are cut and marked
	MaxOpenFiles       int           // files read at once
	MaxBufferBytes     int           // unacknowledged record bytes before reading pauses
	DeleteShipped      bool          // remove rotated files once acknowledged
	KeepGOMAXPROCS     bool          // GOMAXPROCS is the user's: do not run on one processor while keeping up (see procs)
	PodOwned           bool          // only the active file and its rotations match ({pod} in Include, on a shared directory)
	ReadBack           ReadBacker    // after a stop that was not clean, asked what already landed; nil: nothing is read back
	Parse              parse.Options // field types and default zone
}

// When a changed checkpoint is saved, by the file bytes acknowledged since
// the last save (see saveWait).
const (
	// saveSoonBytes unsaved make the save due saveSoonGap after the last.
	saveSoonBytes = 256 << 10
	saveSoonGap   = time.Second
	// minSaveGap is the shortest time between two early saves, made once
	// a buffer's worth (MaxBufferBytes) is unsaved.
	minSaveGap = 100 * time.Millisecond
)

// Pipeline tails the files of a directory, turns their lines into records,
// hands them to a Sink and checkpoints each file to the end of its
// acknowledged prefix. See DESIGN.md beside this file.
//
// Concurrency: Run is called once; it owns every goroutine it starts (one
// per file being read, the directory watcher and the inotify watches) and
// returns only after all of them ended. The sink's background work is not
// among them: its owner runs it around Run (see Sink). Ready may be called
// from any goroutine.
type Pipeline struct {
	cfg     Config
	sink    Sink
	pods    PodSource
	log     *slog.Logger
	m       *metrics
	store   checkpoint.Store
	budget  *budget
	batches sync.Pool
	slots   slots
	matcher tail.Matcher
	active  string
	wg      sync.WaitGroup // reader goroutines
	changed chan struct{}  // a rescan is wanted: the directory changed, or a copy may be resolved
	dirty   chan struct{}  // something to save: an acknowledgement, or a file's state changed
	polling atomic.Bool    // inotify reports no writes here: readers poll
	// writesSeen is set once inotify has reported a write: the file
	// system sends events, so the safety checks can be rare.
	writesSeen atomic.Bool
	rescans    atomic.Int32 // timed rescans so far, up to 4: see safetyInterval
	procs      *procs       // one scheduler processor while the readers keep up
	// safetyBase is the first safety interval (zero: 5 s), and watchWrites
	// starts the inotify watch for writes (nil: tail.NewNotifier); tests
	// set them to find out a file system that reports no writes quickly.
	safetyBase  time.Duration
	watchWrites func(dir string) (*tail.Notifier, error)

	// startWatcher starts radovskyb/watcher's polling of the directory, once:
	// where inotify is not available or reports nothing. While inotify
	// works, the Run loop's rare rescan is the safety net.
	startWatcher func()

	mu      sync.Mutex
	files   map[tail.Identity]*file
	byName  map[string]*file     // the tracked file of each name, for inotify's events
	skipped map[string]tail.Kind // entries not read, by name, so each is logged once
	runCtx  context.Context      // Run's context and the send context, for readers started by events
	sendCtx context.Context

	saveErr atomic.Pointer[error] // the last checkpoint save's failure, nil after a success

	// unsaved counts file bytes acknowledged since the last save; past
	// MaxBufferBytes the save is made early, so a crash during a fast
	// catch-up re-sends little more than what was in flight.
	unsaved atomic.Int64

	lastSaved []checkpoint.Entry // checkpointer goroutine only
	origin    *checkpoint.Landed // the output's end when this run started (see ReadBacker); Run goroutine only
	clean     bool               // the final save: every record sent was acknowledged

	bytesRead atomic.Int64 // file bytes read, for quiet
	quiet     quietMemory  // Run goroutine only
}

// New checks cfg and returns a Pipeline that is ready to Run.
func New(cfg Config, s Sink, pods PodSource, log *slog.Logger, reg prometheus.Registerer) (*Pipeline, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := tail.Matcher{Include: cfg.Include, Exclude: cfg.Exclude, Active: cfg.ActiveFile, Owned: cfg.PodOwned}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(cfg.LogDir)
	if err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("log directory %s is not a directory", cfg.LogDir)
	}
	for name, d := range map[string]*time.Duration{"poll interval": &cfg.PollInterval, "rotate wait": &cfg.RotateWait,
		"multiline timeout": &cfg.MultilineTimeout, "checkpoint interval": &cfg.CheckpointInterval} {
		if *d <= 0 {
			return nil, fmt.Errorf("%s %v is not positive", name, *d)
		}
	}
	if cfg.MaxOpenFiles <= 0 || cfg.MaxBufferBytes <= 0 || cfg.MaxLineBytes <= 0 {
		return nil, errors.New("max open files, max buffer bytes and max line bytes must be positive")
	}
	p := &Pipeline{
		cfg: cfg, sink: s, pods: pods, log: log,
		store:   checkpoint.Store{Dir: cfg.StateDir},
		budget:  newBudget(cfg.MaxBufferBytes),
		slots:   newSlots(cfg.MaxOpenFiles),
		procs:   newProcs(cfg.KeepGOMAXPROCS, time.Now()),
		matcher: m,
		active:  cfg.ActiveFile,
		changed: make(chan struct{}, 1),
		dirty:   make(chan struct{}, 1),
		files:   make(map[tail.Identity]*file),
		byName:  make(map[string]*file),
		skipped: make(map[string]tail.Kind),
		quiet:   newQuietMemory(),
	}
	p.m, err = newMetrics(reg, func() float64 { return float64(p.budget.inUse()) })
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return p, nil
}

// Ready reports whether the checkpoint state can be written: it fails while
// the last save failed (a full volume, a state path that is not a file),
// since every restart would then send again what was shipped.
func (p *Pipeline) Ready() error {
	if err := p.saveErr.Load(); err != nil {
		return fmt.Errorf("saving checkpoints fails: %w", *err)
	}
	return p.store.Writable()
}

// Run ships the files until ctx ends, then shuts down: every file is read to
// its current end and handed to the sink, acknowledgements are awaited for up
// to ShutdownTimeout, and the checkpoints are saved. It returns nil after a
// shutdown, even one that timed out (the checkpoints then stop at what was
// acknowledged, and the rest is sent again after a restart). The sink must
// be running for the whole of Run and be stopped only after Run returned:
// the acknowledgements awaited at shutdown come from it.
func (p *Pipeline) Run(ctx context.Context) error {
	st, err := p.store.LoadState()
	st.Files = p.usableEntries(st.Files)
	entries := st.Files
	firstStart := entries == nil
	if cerr := (*checkpoint.CorruptError)(nil); errors.As(err, &cerr) {
		// Skipping to the end would lose what was written while the sidecar
		// was down: an unusable state means reading every file from 0.
		p.log.Error("checkpoint state unusable; reading every file from the beginning, whatever LOGLET_START_AT says", "err", err)
		firstStart = false
	} else if err != nil {
		return err
	}
	if _, statErr := os.Stat(p.store.Path()); statErr == nil && err == nil {
		firstStart = false
	}
	entries = p.readBackAtStart(ctx, st, err == nil && !firstStart)

	// Sends outlive ctx by ShutdownTimeout, so a shutdown can still hand over
	// what it reads and wait for acknowledgements.
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()

	var bg sync.WaitGroup
	p.mu.Lock()
	p.runCtx, p.sendCtx = ctx, sendCtx
	p.mu.Unlock()
	p.startWatcher = sync.OnceFunc(func() {
		bg.Go(func() {
			if err := tail.Watch(ctx, p.cfg.LogDir, p.cfg.PollInterval, p.changed); err != nil {
				p.log.Error("watch log directory", "err", err)
			}
		})
	})
	p.startNotifiers(ctx, &bg)
	safety := p.safetyInterval()

	byID := make(map[tail.Identity]checkpoint.Entry, len(entries))
	for _, e := range entries {
		byID[tail.Identity{Dev: e.Dev, Ino: e.Ino}] = e
	}
	p.scan(ctx, sendCtx, byID, firstStart)
	p.saveCheckpoints()

	// No ticker runs while nothing happens: a save is armed by what there is
	// to save, the memory release by the end of activity, and the rescan
	// (a safety net beside inotify) is rare.
	var save, quiet <-chan time.Time
	saveTimer := time.NewTimer(time.Hour)
	saveTimer.Stop()
	defer saveTimer.Stop()
	var saveAt time.Time
	lastSave := time.Now()
	rescan := time.NewTimer(safety)
	defer rescan.Stop()
	for ctx.Err() == nil {
		select {
		case <-p.changed:
			p.scan(ctx, sendCtx, nil, false)
			if p.holding() {
				rescan.Reset(p.cfg.RotateWait) // place held copies when their wait is over
			}
		case <-rescan.C:
			p.scan(ctx, sendCtx, nil, false)
			if p.rescans.Load() < 4 {
				p.rescans.Add(1)
			}
			next := p.safetyInterval()
			if p.holding() {
				next = min(next, p.cfg.RotateWait)
			}
			rescan.Reset(next)
		case <-p.dirty:
			if at := lastSave.Add(p.saveWait()); save == nil || at.Before(saveAt) {
				saveAt = at
				saveTimer.Reset(max(0, time.Until(at)))
				save = saveTimer.C
			}
		case <-save:
			save = nil
			p.saveCheckpoints()
			lastSave = time.Now()
			if !p.quiet.check(p.bytesRead.Load(), p.budget.inUse() == 0, lastSave) {
				quiet = time.After(p.quiet.after)
			}
		case <-quiet:
			quiet = nil
			if !p.quiet.check(p.bytesRead.Load(), p.budget.inUse() == 0, time.Now()) {
				quiet = time.After(p.quiet.after)
			}
		case <-ctx.Done():
		}
	}

	p.log.Info("shutting down: reading files to their end and waiting for acknowledgements", "timeout", p.cfg.ShutdownTimeout.String())
	deadline := time.AfterFunc(p.cfg.ShutdownTimeout, cancelSend)
	defer deadline.Stop()
	p.wg.Wait()
	p.waitSettled(sendCtx)
	p.clean = p.allSettled() // a clean stop: nothing sent is unacknowledged
	p.lastSaved = nil        // the final save is written, if only for the flag
	p.saveCheckpoints()
	p.reportUnacknowledged()
	bg.Wait()
	p.closeAll()
	p.log.Info("stopped")
	return nil
}

// reportUnacknowledged names, after a shutdown that timed out, each file
// and the byte range whose records the sink did not acknowledge.
func (p *Pipeline) reportUnacknowledged() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var total int64
	for _, fl := range p.files {
		fl.mu.Lock()
		from, to := fl.acks.unacknowledged()
		fl.mu.Unlock()
		if to > from {
			total += to - from
			p.log.Warn("shutdown timed out: records of this file were not acknowledged",
				"path", fl.path, "from_offset", from, "to_offset", to, "bytes", to-from)
		}
	}
	if total > 0 {
		p.log.Warn("shutdown timed out with records unacknowledged: they are read and sent again when the sidecar restarts with this volume, and are lost if the pod is being deleted (its emptyDir goes with it)",
			"bytes", total, "timeout", p.cfg.ShutdownTimeout.String())
	}
}

// closeAll closes the descriptors of every tracked file, once every reader
// has ended.
func (p *Pipeline) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fl := range p.files {
		if fl.f != nil {
			fl.f.Close()
			fl.f = nil
			p.m.filesOpen.Dec()
		}
	}
}

// waitSettled waits until every handed-out batch is acknowledged, or ctx ends.
func (p *Pipeline) waitSettled(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if p.allSettled() {
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (p *Pipeline) allSettled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fl := range p.files {
		if !fl.settled() {
			return false
		}
	}
	return true
}

func (p *Pipeline) setState(fl *file, s fileState) {
	p.mu.Lock()
	fl.state = s
	p.mu.Unlock()
	p.markDirty()
}

// holding reports whether a copy is held, waiting to be placed.
func (p *Pipeline) holding() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fl := range p.files {
		if fl.state == stateHeld {
			return true
		}
	}
	return false
}

// saveWait is how long after the last save the next one is due, by what
// has been acknowledged since:
//   - a trickle waits for CheckpointInterval (10 s): a quiet sidecar saves,
//     and syncs the disk, rarely;
//   - from saveSoonBytes (256 KiB) on, a second (or CheckpointInterval if
//     shorter), the cadence of a busy sidecar;
//   - from MaxBufferBytes on (a fast catch-up), minSaveGap: so a crash
//     re-sends little.
//
// A crash therefore leaves at most about 256 KiB, or 10 s, or one second
// of a busy file's lines acknowledged but not covered by the saved
// checkpoint: what read-back skips, or what is sent again without it.
func (p *Pipeline) saveWait() time.Duration {
	unsaved := p.unsaved.Load()
	switch {
	case unsaved >= int64(p.cfg.MaxBufferBytes):
		return minSaveGap
	case unsaved >= saveSoonBytes:
		return min(p.cfg.CheckpointInterval, saveSoonGap)
	}
	return p.cfg.CheckpointInterval
}

// markDirty asks the Run loop for a checkpoint save, without blocking.
func (p *Pipeline) markDirty() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// safetyInterval is how often the directory is listed and a waiting reader
// checks its file although nothing was reported:
//   - every few poll intervals where inotify reports nothing (polling);
//   - 5 s at start, doubling with each rescan up to a minute, until inotify
//     has reported a write; so a file system that sends no events is found
//     out within seconds of a start with data to read (two safety checks
//     that find unreported data switch to polling), and within a minute
//     when the data comes later;
//   - a minute once inotify has reported a write, as Fluent Bit's
//     refresh_interval: a lost event is reported by the kernel as an
//     overflow, which wakes every reader and rescans at once, and each
//     check wakes an idle sidecar, a cost paid once per pod.
func (p *Pipeline) safetyInterval() time.Duration {
	poll := p.cfg.PollInterval
	switch {
	case p.polling.Load():
		return max(4*poll, time.Second)
	case p.writesSeen.Load():
		return max(20*poll, time.Minute)
	}
	base := p.safetyBase
	if base <= 0 {
		base = 5 * time.Second
	}
	return max(20*poll, min(base<<p.rescans.Load(), time.Minute))
}

// startNotifiers starts the two inotify watches: one for names (reported at
// once, so that a file is opened within milliseconds of its creation) and
// one for writes (reported after a Coalesce pause, so that writes close
// together wake a reader once). Where inotify is not available, readers
// poll.
func (p *Pipeline) startNotifiers(ctx context.Context, bg *sync.WaitGroup) {
	names, err := tail.NewNotifier(p.cfg.LogDir, tail.NamesOnly)
	if err != nil {
		p.log.Warn("inotify unavailable; finding new files by polling every LOGLET_POLL_INTERVAL, so a file that lives shorter than that may be missed", "err", err)
		p.startWatcher()
	} else {
		bg.Go(func() {
			if err := names.Run(ctx, func([]tail.Event) { p.wantRescan() }); err != nil {
				p.log.Error("inotify", "err", err)
			}
		})
	}
	watch := p.watchWrites
	if watch == nil {
		watch = func(dir string) (*tail.Notifier, error) { return tail.NewNotifier(dir, tail.WritesOnly) }
	}
	writes, err := watch(p.cfg.LogDir)
	if err != nil {
		p.polling.Store(true)
		p.log.Warn("inotify unavailable; reading files by polling every LOGLET_POLL_INTERVAL", "err", err)
		return
	}
	writes.Coalesce = p.cfg.Coalesce
	bg.Go(func() {
		if err := writes.Run(ctx, p.onWrites); err != nil {
			p.log.Error("inotify", "err", err)
		}
	})
}

// onWrites wakes the readers of the files inotify reports written, and
// starts a reader for a dormant one.
func (p *Pipeline) onWrites(events []tail.Event) {
	p.writesSeen.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range events {
		if ev.Op == tail.Overflow {
			for _, fl := range p.files {
				p.wakeLocked(fl)
			}
			p.wantRescan()
			return
		}
		if fl := p.byName[ev.Name]; fl != nil {
			p.wakeLocked(fl)
		}
	}
}

// wakeLocked tells fl's reader that the file changed, or starts one for a
// dormant file. p.mu is held.
func (p *Pipeline) wakeLocked(fl *file) {
	switch fl.state {
	case stateReading:
		p.wakeReaderLocked(fl)
	case stateDormant:
		if p.runCtx != nil {
			p.startLocked(p.runCtx, p.sendCtx, fl)
		}
	}
}

// wakeReaderLocked wakes fl's reader, if it has one, without starting one.
// p.mu is held.
func (p *Pipeline) wakeReaderLocked(fl *file) {
	if fl.state == stateReading {
		select {
		case fl.wake <- struct{}{}:
		default:
		}
	}
}

// pollingFallback switches every reader to polling, once: inotify watches
// the directory but reports no writes (some network and FUSE file systems).
func (p *Pipeline) pollingFallback(name string) {
	if p.polling.CompareAndSwap(false, true) {
		p.log.Warn("inotify reports no writes on this file system; reading files and finding new ones by polling every LOGLET_POLL_INTERVAL instead",
			"dir", p.cfg.LogDir, "file", name)
		p.startWatcher()
	}
}

// startLocked starts a reader goroutine for fl. p.mu is held.
func (p *Pipeline) startLocked(ctx, sendCtx context.Context, fl *file) {
	if ctx.Err() != nil {
		return
	}
	fl.state = stateReading
	fl.toDelete = false
	p.wg.Add(1)
	go p.readFile(ctx, sendCtx, fl)
}

// saveCheckpoints writes the state when it changed, forgets files that are
// gone and acknowledged, and removes rotated files that are fully shipped.
func (p *Pipeline) saveCheckpoints() {
	p.unsaved.Store(0)
	// The descriptors of forgotten files are closed after the save, so that
	// the state's new file does not take the inode just freed: a file
	// re-created on it at once is then told apart by its fingerprint alone.
	var forgotten []*os.File
	defer func() {
		for _, f := range forgotten {
			if f != nil {
				f.Close()
			}
		}
	}()
	p.mu.Lock()
	entries := make([]checkpoint.Entry, 0, len(p.files))
	for _, fl := range p.files {
		fl.mu.Lock()
		settled := fl.settledLocked()
		lag := fl.size - fl.acks.committed
		if fl.idStr != "" && (fl.state != stateGone || !settled) {
			entries = append(entries, fl.entry(fl.name))
		}
		fl.mu.Unlock()
		if fl.state == stateGone && settled {
			forgotten = append(forgotten, p.forgetLocked(fl))
			continue
		}
		p.m.lagBytes.WithLabelValues(fl.name).Set(float64(max(lag, 0)))
	}
	p.mu.Unlock()

	slices.SortFunc(entries, func(a, b checkpoint.Entry) int { return strings.Compare(a.ID, b.ID) })
	if p.lastSaved == nil || !slices.Equal(entries, p.lastSaved) {
		if err := p.store.SaveState(checkpoint.State{Files: entries, Clean: p.clean, Origin: p.origin}); err != nil {
			p.m.checkpointErrs.Inc()
			p.saveErr.Store(&err)
			p.log.Error("save checkpoints", "err", err)
			p.markDirty() // try again after the checkpoint interval
			return
		}
		p.saveErr.Store(nil)
		p.lastSaved = entries
		p.markSaved(entries)
	}

	// Rotated files whose every line is acknowledged and saved can go.
	type candidate struct {
		fl   *file
		path string
	}
	var remove []candidate
	p.mu.Lock()
	for _, fl := range p.files {
		if !fl.toDelete || fl.state != stateDormant || fl.name == p.active {
			continue
		}
		fl.mu.Lock()
		ok := fl.settledLocked() && fl.saved && fl.lastSaved == fl.acks.committed && fl.acks.committed >= fl.size
		fl.mu.Unlock()
		if ok {
			remove = append(remove, candidate{fl, fl.path})
		}
	}
	p.mu.Unlock()
	for _, c := range remove {
		p.removeShipped(c.fl, c.path)
	}
	if len(remove) > 0 {
		p.markDirty() // forget them at the next save
	}
}

func (p *Pipeline) markSaved(entries []checkpoint.Entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range entries {
		if fl := p.files[tail.Identity{Dev: e.Dev, Ino: e.Ino}]; fl != nil {
			fl.mu.Lock()
			if fl.idStr == e.ID {
				fl.lastSaved, fl.saved = e.Offset, true
			}
			fl.mu.Unlock()
		}
	}
}

// removeShipped deletes a rotated file whose every line is acknowledged and
// checkpointed, after checking that path still names that file.
func (p *Pipeline) removeShipped(fl *file, path string) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	if id, _ := tail.IdentityOf(fi); id != fl.id {
		return // renamed since; the descriptor held keeps another file from having this identity
	}
	fl.mu.Lock()
	complete := fl.acks.committed == fi.Size()
	fl.mu.Unlock()
	if !complete {
		return // it grew after all; the next scan restarts its reader
	}
	if err := os.Remove(path); err != nil {
		p.log.Error("remove shipped file", "path", path, "err", err)
		return
	}
	p.log.Info("removed shipped rotated file", "path", path)
	p.m.deleted.Inc()
	p.mu.Lock()
	fl.state = stateGone
	p.mu.Unlock()
}
