#include "tests/bench/datapath_corpus.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unordered_set>
#include <vector>

#include "common/env_asio/asio_env.h"
#include "hostdriver/chunk/chunk_codec.h"
#include "hostdriver/chunk/fingerprinter.h"
#include "tests/bench/bench_report.h"
#include "tests/bench/datapath_data.h"
#include "tests/bench/datapath_driver.h"
#include "tests/bench/datapath_shelf.h"

namespace splitarray::bench {
namespace {

using hostdriver::blockstore::BlockStoreStats;
using hostdriver::chunk::Fingerprint;

constexpr uint64_t kCorpusInodeBase = 1;
constexpr uint64_t kCorpusDiskBytes = 8 * kGiB;  // sparse; a 5-image corpus stores ~0.5 GiB
constexpr uint64_t kCorpusNvramBytes = 512 * kMiB;

// One image file, read with pread (the plain count and the BlockStore rows read the same bytes).
class ImageFile final {
 public:
  explicit ImageFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail("open " + path_ + ": " + std::strerror(errno));
    const off_t size = ::lseek(fd_, 0, SEEK_END);
    if (size < 0) fail("lseek " + path_ + ": " + std::strerror(errno));
    size_ = static_cast<uint64_t>(size);
    if (size_ == 0 || size_ % kBlockBytes != 0) {
      fail(path_ + ": size " + std::to_string(size_) + " is not a positive multiple of 4 KiB");
    }
  }
  ~ImageFile() { ::close(fd_); }
  ImageFile(const ImageFile&) = delete;
  ImageFile& operator=(const ImageFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  std::string name() const { return std::filesystem::path(path_).filename(); }

  // Bytes [offset, offset + min(length, size - offset)) into out (resized to fit).
  void read(uint64_t offset, size_t length, std::vector<uint8_t>& out) const {
    ASSERT(offset < size_);
    out.resize(std::min<uint64_t>(length, size_ - offset));
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n <= 0) fail("pread " + path_ + ": " + (n == 0 ? "short file" : std::strerror(errno)));
      done += static_cast<size_t>(n);
    }
  }

 private:
  const std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

std::vector<std::unique_ptr<ImageFile>> open_images(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".img") {
      paths.push_back(entry.path());
    }
  }
  if (error) fail("cannot list " + dir + ": " + error.message());
  if (paths.empty()) fail("no *.img in " + dir + " (make them with scripts/corpus " + dir + ")");
  std::sort(paths.begin(), paths.end());
  std::vector<std::unique_ptr<ImageFile>> images;
  for (const std::string& path : paths) images.push_back(std::make_unique<ImageFile>(path));
  return images;
}

// ---------------------------------------------------------------------------------------------
// The plain count.

struct FingerprintHash {
  size_t operator()(const Fingerprint& fp) const {
    size_t h = 0;
    std::memcpy(&h, fp.data(), sizeof h);  // SHA-256 bytes are uniform
    return h;
  }
};

struct PlainImage {
  uint64_t nonzero_blocks = 0;
  uint64_t new_distinct = 0;  // distinct blocks not seen in earlier images
};

struct PlainCount {
  std::vector<PlainImage> images;
  uint64_t blocks = 0;
  uint64_t nonzero_blocks = 0;
  uint64_t distinct_blocks = 0;
  uint64_t compressed_bytes = 0;  // ChunkCodec bytes of the distinct blocks
  double dedup_ratio() const {
    return static_cast<double>(nonzero_blocks) / static_cast<double>(distinct_blocks);
  }
  double compression_ratio() const {
    return static_cast<double>(distinct_blocks * kBlockBytes) /
           static_cast<double>(compressed_bytes);
  }
  double reduction_ratio() const {
    return static_cast<double>(nonzero_blocks * kBlockBytes) /
           static_cast<double>(compressed_bytes);
  }
};

PlainCount plain_count(const std::vector<std::unique_ptr<ImageFile>>& images) {
  hostdriver::chunk::Fingerprinter fingerprinter;
  hostdriver::chunk::ChunkCodec codec;
  std::unordered_set<Fingerprint, FingerprintHash> seen;
  std::vector<uint8_t> buffer;
  std::vector<uint8_t> chunk(kBlockBytes);
  PlainCount count;
  for (const std::unique_ptr<ImageFile>& image : images) {
    PlainImage row;
    for (uint64_t offset = 0; offset < image->size(); offset += kPieceBytes) {
      image->read(offset, kPieceBytes, buffer);
      for (size_t at = 0; at < buffer.size(); at += kBlockBytes) {
        const std::span<const uint8_t> block = std::span(buffer).subspan(at, kBlockBytes);
        ++count.blocks;
        if (hostdriver::chunk::is_zero_block(block)) continue;
        ++row.nonzero_blocks;
        if (!seen.insert(fingerprinter.fingerprint(block)).second) continue;
        ++row.new_distinct;
        count.compressed_bytes += codec.compress_into(block, chunk).size_bytes;
      }
    }
    count.nonzero_blocks += row.nonzero_blocks;
    count.images.push_back(row);
  }
  count.distinct_blocks = seen.size();
  ASSERT(count.distinct_blocks > 0);
  return count;
}

// ---------------------------------------------------------------------------------------------
// The BlockStore rows.

struct Piece {
  size_t image = 0;
  uint64_t offset = 0;
};

PieceSet image_pieces(const std::vector<std::unique_ptr<ImageFile>>& images,
                      std::shared_ptr<const std::vector<Piece>> list) {
  PieceSet set;
  set.count = list->size();
  set.inode = [list](size_t p) { return InodeId(kCorpusInodeBase + (*list)[p].image); };
  set.offset = [list](size_t p) { return (*list)[p].offset; };
  set.fill = [list, &images](size_t p, std::vector<uint8_t>& scratch) {
    const Piece& piece = (*list)[p];
    images[piece.image]->read(piece.offset, kPieceBytes, scratch);
    return std::span<const uint8_t>(scratch);
  };
  return set;
}

struct CorpusResults {
  IngestResult ingest;
  BlockStoreStats stats;
  ReadResult cold;
};

Task<void> run_corpus_rows(Env& env, ShelfProcess& shelf, const PieceSet& pieces,
                           const CorpusOptions& o, CorpusResults& out) {
  co_await shelf.wait_ready(env);
  std::unique_ptr<BlockStore> store = co_await open_store(env, shelf, Epoch(1));
  out.ingest = co_await ingest(*store, env, shelf, pieces, o.writers, o.commit_every);
  out.stats = store->stats();
  co_await store->close();
  store.reset();
  store = co_await open_store(env, shelf, Epoch(2));
  out.cold = co_await read_verify(*store, env, pieces, 0, pieces.count, o.readers);
  co_await store->close();
}

void print_results(const std::vector<std::unique_ptr<ImageFile>>& images, const PlainCount& plain,
                   const CorpusResults& r, const CorpusOptions& o) {
  std::printf(
      "datapath_bench --corpus %s: %zu images through the BlockStore (one inode each, "
      "every byte, 1 MiB unstable writes, %zu writers) on a real netshelf\n\n",
      o.corpus_dir.c_str(), images.size(), o.writers);
  std::printf("%-28s %10s %12s %14s %12s\n", "image", "MiB", "non-zero MiB", "new distinct MiB",
              "cum. dedup");
  uint64_t nonzero = 0;
  uint64_t distinct = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    nonzero += plain.images[i].nonzero_blocks;
    distinct += plain.images[i].new_distinct;
    std::printf("%-28s %10.0f %12.1f %14.1f %11.2fx\n", images[i]->name().c_str(),
                static_cast<double>(images[i]->size()) / kMiB,
                static_cast<double>(plain.images[i].nonzero_blocks * kBlockBytes) / kMiB,
                static_cast<double>(plain.images[i].new_distinct * kBlockBytes) / kMiB,
                static_cast<double>(nonzero) / static_cast<double>(distinct));
  }
  const BlockStoreStats& s = r.stats;
  const double reduction =
      static_cast<double>(s.logical_bytes) / static_cast<double>(s.stored_bytes);
  std::printf("\n%-34s %10s %12s %10s\n", "", "dedup", "compression", "reduction");
  std::printf("%-34s %9.2fx %11.2fx %9.2fx\n", "BlockStore::stats()", s.dedup_ratio(),
              s.compression_ratio(), reduction);
  std::printf("%-34s %9.2fx %11.2fx %9.2fx\n", "plain count (4 KiB, SHA-256, zstd-1)",
              plain.dedup_ratio(), plain.compression_ratio(), plain.reduction_ratio());
  std::printf(
      "BlockStore: logical %.1f MiB (plain non-zero %.1f), unique %.1f MiB (plain distinct "
      "%.1f), stored %.1f MiB (plain %.1f), zero blocks %llu\n",
      static_cast<double>(s.logical_bytes) / kMiB,
      static_cast<double>(plain.nonzero_blocks * kBlockBytes) / kMiB,
      static_cast<double>(s.unique_bytes) / kMiB,
      static_cast<double>(plain.distinct_blocks * kBlockBytes) / kMiB,
      static_cast<double>(s.stored_bytes) / kMiB,
      static_cast<double>(plain.compressed_bytes) / kMiB,
      static_cast<unsigned long long>(s.zero_blocks));
  std::printf(
      "ingest %.1f MB/s of image bytes (%.1f destaged), %.2f cpu s/GB (shelf %.2f); "
      "cold read-back %.1f MB/s, every byte verified\n\n",
      r.ingest.mbps(), r.ingest.destaged_mbps(), r.ingest.cpu_s_per_gb(),
      r.ingest.shelf_cpu_s_per_gb(), r.cold.mbps());
  JsonLine json;
  json.add("corpus_images", static_cast<double>(images.size()));
  json.add("corpus_image_mib", static_cast<double>(r.ingest.bytes) / kMiB);
  json.add("corpus_nonzero_mib", static_cast<double>(plain.nonzero_blocks * kBlockBytes) / kMiB);
  json.add("corpus_dedup_ratio", s.dedup_ratio());
  json.add("corpus_compression_ratio", s.compression_ratio());
  json.add("corpus_reduction_ratio", reduction);
  json.add("plain_dedup_ratio", plain.dedup_ratio());
  json.add("plain_compression_ratio", plain.compression_ratio());
  json.add("plain_reduction_ratio", plain.reduction_ratio());
  json.add("corpus_ingest_mbps", r.ingest.mbps());
  json.add("corpus_ingest_destaged_mbps", r.ingest.destaged_mbps());
  json.add("corpus_cpu_s_per_gb", r.ingest.cpu_s_per_gb());
  json.add("corpus_shelf_cpu_s_per_gb", r.ingest.shelf_cpu_s_per_gb());
  json.add("corpus_read_cold_mbps", r.cold.mbps());
  std::printf("%s\n", json.str().c_str());
}

}  // namespace

int run_corpus(const CorpusOptions& o) {
  const std::vector<std::unique_ptr<ImageFile>> images = open_images(o.corpus_dir);
  std::fprintf(stderr, "datapath_bench: plain count over %zu images\n", images.size());
  const PlainCount plain = plain_count(images);
  auto list = std::make_shared<std::vector<Piece>>();
  for (size_t i = 0; i < images.size(); ++i) {
    for (uint64_t offset = 0; offset < images[i]->size(); offset += kPieceBytes) {
      list->push_back(Piece{i, offset});
    }
  }
  const PieceSet pieces = image_pieces(images, list);
  ShelfLayout layout;
  layout.disk_bytes = kCorpusDiskBytes;
  layout.nvram_bytes = kCorpusNvramBytes;
  CorpusResults results;
  {
    ShelfProcess shelf(o.netshelf, o.base_dir, layout);
    std::fprintf(stderr, "datapath_bench: corpus through the BlockStore; shelf state dir %s\n",
                 shelf.dir().c_str());
    asio::io_context io;
    AsioEnv asio_env(io, AsioEnvOptions{.compute_threads = o.compute_threads,
                                        .blocking_io_threads = 1,
                                        .log_level = LogLevel::kWarn,
                                        .component = "datapath-corpus"});
    asio::co_spawn(io, run_corpus_rows(asio_env.env(), shelf, pieces, o, results),
                   [](std::exception_ptr error) {
                     if (error) std::rethrow_exception(error);  // a bug: abort via terminate
                   });
    io.run();
    shelf.stop();
  }
  print_results(images, plain, results, o);
  return 0;
}

}  // namespace splitarray::bench
