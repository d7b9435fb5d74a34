// spi_guarded.cpp — guarded SPI statements and readers (spi_guarded.hpp).
// Must never call PostgreSQL outside pg_call, nor keep a C++ object alive inside one.
// Called by job_store.cpp and migrate.cpp.
#include "spi_guarded.hpp"

#include "spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
}

namespace pg2d1 {

SpiArg int8_arg(int64_t v) {
	return {INT8OID, Int64GetDatum(v), false};
}
SpiArg int4_arg(int32_t v) {
	return {INT4OID, Int32GetDatum(v), false};
}
SpiArg oid_arg(Oid v) {
	return {OIDOID, ObjectIdGetDatum(v), false};
}
SpiArg bool_arg(bool v) {
	return {BOOLOID, BoolGetDatum(v), false};
}
SpiArg float8_arg(double v) {
	Datum d = 0;
	pg_call([&] { d = Float8GetDatum(v); });
	return {FLOAT8OID, d, false};
}
SpiArg text_arg(const std::string &v, bool null_if_empty) {
	if (null_if_empty && v.empty()) {
		return {TEXTOID, 0, true};
	}
	Datum d = 0;
	pg_call([&] { d = CStringGetTextDatum(v.c_str()); });
	return {TEXTOID, d, false};
}
SpiArg text_array_arg(const std::optional<std::vector<std::string>> &values) {
	if (!values) {
		return {TEXTARRAYOID, 0, true};
	}
	std::vector<Datum> elems(values->size());
	Datum d = 0;
	pg_call([&] {
		for (size_t i = 0; i < values->size(); i++) {
			elems[i] = CStringGetTextDatum((*values)[i].c_str());
		}
		d = PointerGetDatum(
		    construct_array(elems.data(), static_cast<int>(elems.size()), TEXTOID, -1, false, TYPALIGN_INT));
	});
	return {TEXTARRAYOID, d, false};
}

SpiArg int8_array_arg(const std::vector<int64_t> &values) {
	std::vector<Datum> elems(values.size());
	for (size_t i = 0; i < values.size(); i++) {
		elems[i] = Int64GetDatum(values[i]);
	}
	Datum d = pg_call([&] {
		return PointerGetDatum(
		    construct_array(elems.data(), static_cast<int>(elems.size()), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	});
	return {INT8ARRAYOID, d, false};
}

// Runs a statement (inside as_store). Returns SPI_processed.
uint64 spi_exec(const std::string &sql, const std::vector<SpiArg> &args, bool read_only, long limit) {
	std::vector<Oid> types(args.size());
	std::vector<Datum> values(args.size());
	std::vector<char> nulls(args.size() + 1, ' ');
	for (size_t i = 0; i < args.size(); i++) {
		types[i] = args[i].type;
		values[i] = args[i].value;
		nulls[i] = args[i].isnull ? 'n' : ' ';
	}
	uint64 n = 0;
	pg_call([&] {
		int rc = SPI_execute_with_args(sql.c_str(), static_cast<int>(args.size()), types.data(), values.data(),
		                               nulls.data(), read_only, limit);
		if (rc < 0) {
			elog(ERROR, "pg2d1: internal query failed (%d): %s", rc, sql.c_str());
		}
		n = SPI_processed;
	});
	return n;
}

// Readers of the last result (row, 1-based column).
int64_t get_int64(uint64 row, int col) {
	return pg_call([&] { return static_cast<int64_t>(spi_int64(row, col)); });
}
int32_t get_int32(uint64 row, int col) {
	return pg_call([&] { return static_cast<int32_t>(spi_int32(row, col)); });
}
bool get_bool(uint64 row, int col) {
	return pg_call([&] { return spi_bool(row, col); });
}
double get_float8(uint64 row, int col) {
	return pg_call([&] {
		bool isnull;
		Datum d = spi_datum(row, col, &isnull);
		return isnull ? 0.0 : DatumGetFloat8(d);
	});
}
Oid get_oid(uint64 row, int col) {
	return pg_call([&] {
		bool isnull;
		Datum d = spi_datum(row, col, &isnull);
		return isnull ? InvalidOid : DatumGetObjectId(d);
	});
}
std::string get_text(uint64 row, int col) { // "" for NULL
	const char *s = pg_call([&] { return static_cast<const char *>(spi_text(row, col)); });
	return s ? std::string(s) : std::string();
}
std::optional<std::vector<std::string>> get_text_array(uint64 row, int col) {
	Datum *elems = nullptr;
	bool *nulls = nullptr;
	int n = 0;
	bool isnull = true;
	pg_call([&] {
		Datum d = spi_datum(row, col, &isnull);
		if (!isnull) {
			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		}
	});
	if (isnull) {
		return std::nullopt;
	}
	std::vector<std::string> out;
	out.reserve(static_cast<size_t>(n));
	for (int i = 0; i < n; i++) {
		const char *p = nullptr;
		int len = 0;
		if (!nulls[i]) {
			pg_call([&] {
				text *t = DatumGetTextPP(elems[i]);
				p = VARDATA_ANY(t);
				len = VARSIZE_ANY_EXHDR(t);
			});
		}
		out.emplace_back(p ? std::string(p, static_cast<size_t>(len)) : std::string());
	}
	return out;
}

} // namespace pg2d1
